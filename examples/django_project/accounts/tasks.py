"""Found by the worker at start: redisq.django imports every installed app's tasks.py."""

from django.core.mail import send_mail
from django.utils import timezone

from redisq.django import task

from .models import Member


@task(queue="emails", retries=4)
def send_welcome_email(member_id: int) -> str:
    """A plain def task: it runs in a worker thread, and uses the ORM as a view does. The member's row is
    there: the signup enqueued this job on commit."""
    member = Member.objects.get(pk=member_id)
    send_mail("Welcome to the shop", f"Hello {member.name}, welcome aboard.", None, [member.email])
    Member.objects.filter(pk=member_id).update(welcomed_at=timezone.now())
    return member.email
