"""What the Django app holds for its process: the settings read once, the client, and a loop thread.

It lives on the app's AppConfig (redisq/django/apps.py), in Django's app registry: nothing at module level.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps

from redisq.core.client import RedisQ
from redisq.integrations.bridge import LoopThread

from .conf import DjangoConfig, read_config

APP_LABEL = "redisq"


@dataclass
class DjangoState:
    config: DjangoConfig
    client: RedisQ
    bridge: LoopThread  # runs the shared async admin and dashboard code for the sync views


def build_state() -> DjangoState:
    config = read_config()
    return DjangoState(config, RedisQ(settings=config.resolved.settings), LoopThread("redisq-django"))


def current() -> DjangoState:
    """The state of the installed app; an error that says what to do when "redisq.django" is not installed."""
    from django.core.exceptions import AppRegistryNotReady, ImproperlyConfigured

    try:
        installed = apps.is_installed("redisq.django")
    except AppRegistryNotReady:
        raise AppRegistryNotReady(
            "redisq's client is made when Django starts: use redisq.django (declare a task, enqueue) from "
            "modules Django imports once set up (an app's tasks.py, models, views), not from settings"
        ) from None
    if not installed:
        raise ImproperlyConfigured('redisq: add "redisq.django" to INSTALLED_APPS')
    state: DjangoState = apps.get_app_config(APP_LABEL).state  # type: ignore[attr-defined]
    return state


def client() -> RedisQ:
    """The project's redisq client (every core method: stats, jobs, health, enqueue_many, ...)."""
    return current().client
