"""The Django app: reads settings.REDISQ at start, builds the project's client, imports every task module."""

from __future__ import annotations

import importlib
import threading
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.utils.module_loading import autodiscover_modules

from redisq.integrations.django.state import APP_LABEL, DjangoState, build_state


class RedisQConfig(AppConfig):
    name = "redisq.django"
    label = APP_LABEL
    verbose_name = "redisq"

    def __init__(self, app_name: str, app_module: Any) -> None:
        super().__init__(app_name, app_module)
        self._state: DjangoState | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> DjangoState:
        with self._lock:
            if self._state is None:
                self._state = build_state()
            return self._state

    def ready(self) -> None:
        self.state  # noqa: B018 - a bad REDISQ setting fails the start, not the first job
        # Each installed app's tasks.py, and the modules REDISQ["IMPORTS"] names: a worker knows every task.
        autodiscover_modules("tasks")
        for module in self.state.config.imports:
            importlib.import_module(module)
        checks.register(check_admin_link_order)


def check_admin_link_order(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """The dashboard's link on the admin index comes from this app's admin/index.html, found only if this
    app is listed before django.contrib.admin (Django's template loaders search apps in order)."""
    from django.apps import apps

    names = [config.name for config in apps.get_app_configs()]
    if "django.contrib.admin" in names and names.index("django.contrib.admin") < names.index("redisq.django"):
        return [
            checks.Warning(
                "redisq.django is listed after django.contrib.admin: the admin index shows no link to "
                "the queues' dashboard",
                hint='List "redisq.django" before "django.contrib.admin" in INSTALLED_APPS.',
                id="redisq.W001",
            )
        ]
    return []
