from django.contrib import admin
from django.urls import include, path

from redisq.django import health_urls

urlpatterns = [
    path("", include("accounts.urls")),
    path("reports/", include("reports.urls")),
    path("admin/", admin.site.urls),
    path("ops/queues/", include("redisq.django.urls")),  # staff only: the admin API and the dashboard
    *health_urls(),  # /health, /health/live, /health/queues: for the load balancer, no login
]
