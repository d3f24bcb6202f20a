"""redisq in a Django project: `INSTALLED_APPS = [..., "redisq.django"]`, settings in `settings.REDISQ`.

    from redisq.django import task, enqueue_on_commit

    @task(queue="emails")
    def send_welcome(user_id: int) -> None: ...

    with transaction.atomic():
        user = User.objects.create(...)
        enqueue_on_commit(send_welcome.call(user.pk))   # enqueued once the row is committed

`python manage.py redisq worker` runs the tasks; `path("queues/", include("redisq.django.urls"))` serves the
admin API and the dashboard to staff; `*health_urls()` serves /health. See redisq/integrations/django/.
"""

from redisq.admin.access import Access, QueueAccess
from redisq.integrations.django.admin_views import admin_urls, staff_access
from redisq.integrations.django.health import health_urls
from redisq.integrations.django.state import client
from redisq.integrations.django.tasks import enqueue_on_commit, task

__all__ = [
    "Access",
    "QueueAccess",
    "admin_urls",
    "client",
    "enqueue_on_commit",
    "health_urls",
    "staff_access",
    "task",
]
