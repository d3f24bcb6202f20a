"""The Django URLconf of benchmarks/admin_views.py: the admin API at /queues/, open to readers."""

from django.urls import include, path

from redisq.django import admin_urls

urlpatterns = [path("queues/", include(admin_urls(auth=None, allow_anonymous="read")))]
