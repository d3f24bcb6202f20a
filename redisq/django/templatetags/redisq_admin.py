"""`{% redisq_dashboard_url as url %}`: where the dashboard is mounted, or "" when no URLconf includes it."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def redisq_dashboard_url() -> str:
    try:
        return reverse("redisq:dashboard")
    except NoReverseMatch:
        return ""
