"""`settings.REDISQ`: the client's and the worker's settings, the task modules and the admin mount's access.

    REDISQ = {
        "URL": "redis://localhost:6379/0",   # any `Settings` field, upper-cased: PREFIX, RESULT_TTL_S, ...
        "QUEUES": ["emails", "reports"],     # the worker's, highest priority first ("name:N" caps one)
        "CONCURRENCY": 20,                   # any `WorkerSettings` field: LEASE_S, SHUTDOWN_GRACE_S, ...
        "IMPORTS": ["shop.jobs"],            # task modules besides each installed app's tasks.py
        "ADMIN": {"AUTH": "shop.access.redisq_access", "TRUSTED_ORIGINS": [], "ALLOW_ANONYMOUS": False},
    }

What REDISQ leaves out comes from the environment (REDISQ_URL, REDIS_URL, REDISQ_CONCURRENCY, ...), then the
defaults: Django's settings win over the environment as a Flask app's config does. No redisq.toml is read:
settings.py is this project's config file. A key that is not a setting, or a value of the wrong type, is an
ImproperlyConfigured error that names it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from redisq.core.config import Settings, WorkerSettings
from redisq.core.config_file import Origin, ResolvedConfig, checked_value, known_keys, load_config
from redisq.core.errors import ConfigurationError

SETTING = "REDISQ"
_OWN_KEYS = ("IMPORTS", "ADMIN")
_ADMIN_KEYS = ("AUTH", "ALLOW_ANONYMOUS", "TRUSTED_ORIGINS", "DASHBOARD_INTERVAL_S", "LOGIN_REDIRECT")


@dataclass(frozen=True)
class AdminOptions:
    """`REDISQ["ADMIN"]`: the options of the mount that `include("redisq.django.urls")` serves."""

    auth: Callable[..., Any] | None = None  # None: staff are admins, anyone else is refused
    allow_anonymous: Any = False
    trusted_origins: Sequence[str] = ()
    dashboard_interval_s: float = 1.0
    login_redirect: bool | None = None  # None: with the default auth only


@dataclass(frozen=True)
class DjangoConfig:
    resolved: ResolvedConfig  # the client's Settings, the WorkerSettings and the worker's queues
    imports: tuple[str, ...]
    admin: AdminOptions


def _dotted(key: str) -> str:
    name = key.lower()
    if name in {f.name for f in dataclasses.fields(Settings)}:
        return f"client.{name}"
    if name == "queues" or name in {f.name for f in dataclasses.fields(WorkerSettings)}:
        return f"worker.{name}"
    known = sorted(k.rpartition(".")[2].upper() for k in known_keys() if k != "app")
    raise ImproperlyConfigured(
        f"{SETTING}: unknown setting {key!r} (known: {', '.join([*known, *_OWN_KEYS])})"
    )


def read_config(environ: Mapping[str, str] | None = None) -> DjangoConfig:
    given: Any = getattr(settings, SETTING, {})
    if not isinstance(given, Mapping):
        raise ImproperlyConfigured(f"{SETTING} must be a dict, got {type(given).__name__}")
    fields = known_keys()
    values: dict[str, Any] = {}  # by dotted key (worker.concurrency), as command-line options are given
    names: dict[str, str] = {}
    try:
        for key, value in given.items():
            if key in _OWN_KEYS:
                continue
            dotted = _dotted(str(key))
            if value is None:  # `"URL": os.environ.get("REDIS_URL")` with none set: as if not given
                continue
            names[dotted] = f"settings.{SETTING}[{key!r}]"
            values[dotted] = checked_value(names[dotted], dotted, fields[dotted], value)
        resolved = load_config(values, environ=environ, arg_names=names, use_file=False)
    except ConfigurationError as exc:
        raise ImproperlyConfigured(str(exc)) from None
    # What REDISQ gave was passed as the arguments (it wins over the environment): `redisq config` says so.
    origins = {k: Origin("settings", o.name) if o.kind == "arg" else o for k, o in resolved.origins.items()}
    resolved = dataclasses.replace(resolved, origins=origins)
    return DjangoConfig(resolved, _imports(given.get("IMPORTS", ())), _admin(given.get("ADMIN", {})))


def _imports(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ImproperlyConfigured(f"{SETTING}['IMPORTS'] must be a list of module names, got {value!r}")
    return tuple(value)


def _admin(value: Any) -> AdminOptions:
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(f"{SETTING}['ADMIN'] must be a dict, got {value!r}")
    unknown = sorted(set(value) - set(_ADMIN_KEYS))
    if unknown:
        raise ImproperlyConfigured(
            f"{SETTING}['ADMIN']: unknown setting {unknown[0]!r} (known: {', '.join(_ADMIN_KEYS)})"
        )
    auth = value.get("AUTH")
    if isinstance(auth, str):
        try:
            auth = import_string(auth)
        except ImportError as exc:
            raise ImproperlyConfigured(f"{SETTING}['ADMIN']['AUTH']: cannot import {auth!r}: {exc}") from None
    if auth is not None and not callable(auth):
        raise ImproperlyConfigured(f"{SETTING}['ADMIN']['AUTH'] must be a callable or its dotted path")
    origins = value.get("TRUSTED_ORIGINS", ())
    if isinstance(origins, str):
        raise ImproperlyConfigured(f"{SETTING}['ADMIN']['TRUSTED_ORIGINS'] must be a list of origins")
    return AdminOptions(
        auth=auth,
        allow_anonymous=value.get("ALLOW_ANONYMOUS", False),
        trusted_origins=tuple(origins),
        dashboard_interval_s=value.get("DASHBOARD_INTERVAL_S", 1.0),
        login_redirect=value.get("LOGIN_REDIRECT"),
    )
