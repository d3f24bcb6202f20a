"""The Flask extension: `redisq = RedisQ(app)` or `redisq.init_app(app)`, `@redisq.task("queue")`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, overload

from flask import Blueprint, Flask, current_app

from redisq.core.client import RedisQ as Client
from redisq.core.config import Settings
from redisq.core.errors import ConfigurationError
from redisq.core.hooks import JobMiddleware, WorkerHook
from redisq.core.keys import check_queue_name, split_queue_names
from redisq.core.limits import RateLimit
from redisq.core.schedules import check_schedule_option
from redisq.integrations.bridge import LoopThread

from . import requests
from .cli import make_cli
from .tasks import FlaskTask, TaskDefinition, in_app_context
from .views import health_blueprint

EXTENSION_KEY = "redisq"


@dataclass
class AppState:
    """What one app holds in `app.extensions["redisq"]`."""

    extension: RedisQ
    app: Flask
    client: Client
    worker_queues: list[str] | None
    concurrency: int
    bridge: LoopThread  # runs the shared async admin and dashboard code for this app's views


def settings_for(app: Flask, defaults: dict[str, Any]) -> Settings:
    """`REDISQ_<FIELD>` from app.config, over the extension's defaults, over the environment's."""
    overrides = dict(defaults)
    for field in dataclasses.fields(Settings):
        key = f"REDISQ_{field.name.upper()}"
        if key in app.config:
            overrides[field.name] = app.config[key]
    return Settings.from_env(**overrides)


def _queue_list(value: Any) -> list[str] | None:
    """REDISQ_QUEUES: unset, "" or [] for every queue; else each name must be usable (issue 11)."""
    if value is not None and not isinstance(value, (str, list, tuple)):
        raise ConfigurationError(f"REDISQ_QUEUES must be a comma-separated string or a list, got {value!r}")
    return split_queue_names(value, "REDISQ_QUEUES: queue name") if value else None


class RedisQ:
    """Tasks are declared once on the extension; each app it is initialized on gets its own client (from
    its own config) with every task registered, and runs them inside its own app context.

    Config (all optional): REDISQ_URL (else REDIS_URL in the environment, else an embedded local Redis),
    REDISQ_PREFIX, REDISQ_DEFAULT_QUEUE and every other `Settings` field as REDISQ_<FIELD>; for
    `flask redisq worker`: REDISQ_QUEUES (comma-separated, highest priority first) and REDISQ_CONCURRENCY.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        health_url: str | None = "/health",
        client: Client | None = None,
        **settings: Any,
    ) -> None:
        """`settings` are defaults under each app's REDISQ_* config; or give one `client` to every app."""
        self._client = client
        self._defaults = settings
        self._health_url = health_url
        self._definitions: dict[str, TaskDefinition] = {}
        self._queue_limits: dict[str, tuple[RateLimit | str | None, int | None]] = {}
        self._states: list[AppState] = []  # of every app initialized, to register later tasks on
        self._worker_hooks: list[tuple[str, Any]] = []  # ("start" | "stop" | "middleware", hook)
        self._hooked: set[tuple[int, int]] = set()  # (client, hook) pairs done: one client may serve apps
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if EXTENSION_KEY in app.extensions:
            raise ConfigurationError(f"RedisQ is already initialized on app {app.name!r}")
        client = self._client or Client(settings=settings_for(app, self._defaults))
        state = AppState(
            extension=self,
            app=app,
            client=client,
            worker_queues=_queue_list(app.config.get("REDISQ_QUEUES")),
            concurrency=int(app.config.get("REDISQ_CONCURRENCY", 10)),
            bridge=LoopThread(f"redisq-{app.name}"),
        )
        for definition in self._definitions.values():
            self._register(app, client, definition)
        for kind, hook in self._worker_hooks:
            self._add_hook(app, client, kind, hook)
        for queue, (rate, most) in self._queue_limits.items():
            client.limit_queue(queue, rate_limit=rate, max_concurrency=most)
        app.extensions[EXTENSION_KEY] = state
        self._states.append(state)
        requests.install(app)
        app.cli.add_command(make_cli())
        if self._health_url is not None:
            app.register_blueprint(health_blueprint(self._health_url))

    # ---- tasks ------------------------------------------------------------------------------------

    @overload
    def task(self, fn: Callable[..., Any], /) -> FlaskTask[Any, Any]: ...

    @overload
    def task(
        self, queue: str | None = None, /, **options: Any
    ) -> Callable[[Callable[..., Any]], FlaskTask[Any, Any]]: ...

    def task(
        self, fn_or_queue: Callable[..., Any] | str | None = None, /, **options: Any
    ) -> FlaskTask[Any, Any] | Callable[[Callable[..., Any]], FlaskTask[Any, Any]]:
        """`@redisq.task`, `@redisq.task("emails")` or `@redisq.task(queue="emails", retries=5, ...)`;
        the options are those of the core `RedisQ.task`."""
        if isinstance(fn_or_queue, str):
            options["queue"] = fn_or_queue
        if options.get("queue") is not None:  # at decoration, not at the first init_app
            check_queue_name(options["queue"])
        if options.get("schedule") is not None or options.get("tz") is not None:  # likewise (issue 12)
            check_schedule_option(options.get("schedule"), options.get("tz"))

        def declare(fn: Callable[..., Any]) -> FlaskTask[Any, Any]:
            name = options.pop("name", None) or f"{fn.__module__}.{fn.__qualname__}"
            definition = TaskDefinition(fn, name, dict(options))
            known = self._definitions.get(name)
            if known is not None and known.fn is not fn:
                raise ValueError(f"a different task is already declared as {name!r}")
            self._definitions[name] = definition
            for state in self._states:
                self._register(state.app, state.client, definition)
            return FlaskTask(self, definition)

        return declare(fn_or_queue) if callable(fn_or_queue) else declare

    def limit_queue(
        self, queue: str, *, rate_limit: RateLimit | str | None = None, max_concurrency: int | None = None
    ) -> None:
        """`RedisQ.limit_queue` on every app's client: a limit on the whole queue, across every worker."""
        for state in self._states:
            state.client.limit_queue(queue, rate_limit=rate_limit, max_concurrency=max_concurrency)
        self._queue_limits[queue] = (rate_limit, max_concurrency)

    @staticmethod
    def _register(app: Flask, client: Client, definition: TaskDefinition) -> None:
        client.task(name=definition.name, **definition.options)(in_app_context(app, definition.fn))

    # ---- worker hooks and job middleware (issue 12) ------------------------------------------------

    def on_worker_start(self, fn: WorkerHook) -> WorkerHook:
        """As `redisq.RedisQ.on_worker_start`, on every app's client, run inside that app's context."""
        self._declare_hook("start", fn)
        return fn

    def on_worker_stop(self, fn: WorkerHook) -> WorkerHook:
        self._declare_hook("stop", fn)
        return fn

    def add_middleware(self, middleware: JobMiddleware) -> None:
        self._declare_hook("middleware", middleware)

    def _declare_hook(self, kind: str, hook: Any) -> None:
        self._worker_hooks.append((kind, hook))
        for state in self._states:
            self._add_hook(state.app, state.client, kind, hook)

    def _add_hook(self, app: Flask, client: Client, kind: str, hook: Any) -> None:
        if (id(client), id(hook)) in self._hooked:
            return
        self._hooked.add((id(client), id(hook)))
        if kind == "middleware":
            client.add_middleware(hook)
        elif kind == "start":
            client.on_worker_start(in_app_context(app, hook))
        else:
            client.on_worker_stop(in_app_context(app, hook))

    def admin_blueprint(
        self,
        *,
        auth: Callable[..., Any] | None = None,
        allow_anonymous: Any = False,
        trusted_origins: Any = (),
        dashboard_interval_s: float = 1.0,
    ) -> Blueprint:
        """The `/queues` admin API and dashboard: `app.register_blueprint(redisq.admin_blueprint(auth=...),
        url_prefix="/queues")`. Same routes, JSON and access rules as the ASGI side's `admin_app`."""
        from .admin import admin_blueprint

        return admin_blueprint(
            auth=auth,
            allow_anonymous=allow_anonymous,
            trusted_origins=trusted_origins,
            dashboard_interval_s=dashboard_interval_s,
        )

    # ---- the current app's client -----------------------------------------------------------------

    @property
    def state(self) -> AppState:
        state = current_app.extensions.get(EXTENSION_KEY)  # raises outside an app context, saying so
        if not isinstance(state, AppState) or state.extension is not self:
            raise RuntimeError(
                f"RedisQ was not initialized on app {current_app.name!r}: call redisq.init_app(app) "
                "(or RedisQ(app)) in the app factory"
            )
        return state

    @property
    def client(self) -> Client:
        """The core client of the current app (every core method: stats, jobs, health, ...)."""
        return self.state.client
