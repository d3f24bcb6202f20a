"""`path("queues/", include("redisq.django.urls"))`: the admin API and the dashboard, with the options of
settings.REDISQ["ADMIN"] (default: staff users are admins, anyone else is refused)."""

from redisq.integrations.django.admin_views import admin_urls, staff_access
from redisq.integrations.django.state import current

_options = current().config.admin
urlpatterns, app_name = admin_urls(
    auth=_options.auth or staff_access,
    allow_anonymous=_options.allow_anonymous,
    trusted_origins=_options.trusted_origins,
    dashboard_interval_s=_options.dashboard_interval_s,
    login_redirect=_options.login_redirect,
)
