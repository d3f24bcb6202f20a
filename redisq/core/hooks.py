"""Worker lifecycle hooks and job middleware (issue 12).

Start hooks open what every job of a worker shares (a DB pool) and put it in `WorkerContext.state`;
tasks read it through `current_job.get().worker.state`; stop hooks close it once the worker has drained.
Job middleware sees every job a worker takes, and every outcome (success, failure, retry, death, abort,
and the jobs refused unexecuted): the hooks that metrics and tracing build on.

What a hook or middleware raises is logged and changes nothing about the job or the worker, with one
exception: a start hook that raises stops the worker before it takes a job (`HookFailed`), since every job
would then fail for want of what the hook should have opened, and spend its attempts doing so.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from .context import JobContext, WorkerContext
from .errors import HookFailed, RegistryFrozen

log = logging.getLogger("redisq.worker")

WorkerHook = Callable[[WorkerContext], "Awaitable[None] | None"]


class JobMiddleware:
    """Subclass and override the methods you need (the others do nothing); each may be a plain method or
    an `async def`. The worker calls them in the job's own context (its contextvars), on the event loop:
    keep plain methods short, as they hold up the loop while they run.

    `before` runs before the task is called; then exactly one of: `after` (success), `on_retry` (a failed
    attempt that will run again, or `raise Retry`), `on_dead` (the last attempt failed, an error that must
    not retry, or a job refused unexecuted: unknown task, bad arguments...), `on_abort`. `on_failure` runs
    for every failed attempt (timeouts included), before `on_retry` or `on_dead`. A refused job gets only
    `on_dead`, with the reason as a string.
    """

    def before(self, job: JobContext) -> Awaitable[None] | None:
        return None

    def after(self, job: JobContext, result: Any) -> Awaitable[None] | None:
        return None

    def on_failure(self, job: JobContext, exc: BaseException) -> Awaitable[None] | None:
        return None

    def on_retry(self, job: JobContext, exc: BaseException, retry_at: datetime) -> Awaitable[None] | None:
        return None

    def on_dead(self, job: JobContext, reason: BaseException | str) -> Awaitable[None] | None:
        return None

    def on_abort(self, job: JobContext) -> Awaitable[None] | None:
        return None


_EVENTS = ("before", "after", "on_failure", "on_retry", "on_dead", "on_abort")


async def _call(what: str, fn: Callable[..., Any], *args: Any) -> None:
    """Call a hook, awaiting it if it is async; log what it raises. CancelledError passes (a shutdown)."""
    try:
        outcome = fn(*args)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception:
        log.exception("%s %r raised (ignored: the job's outcome stands)", what, fn)


class Hooks:
    """A client's hooks and middleware, registered before its workers start (`RedisQ.on_worker_start`,
    `on_worker_stop`, `add_middleware`)."""

    def __init__(self) -> None:
        self.start: list[WorkerHook] = []
        self.stop: list[WorkerHook] = []
        self.middleware: list[JobMiddleware] = []
        # Per event, the middleware that override it (most override one or two: the rest cost nothing).
        self._by_event: dict[str, list[Callable[..., Any]]] = {event: [] for event in _EVENTS}

    def add_middleware(self, middleware: JobMiddleware) -> None:
        if not isinstance(middleware, JobMiddleware):
            raise TypeError(f"middleware must subclass redisq.JobMiddleware, got {middleware!r}")
        self.middleware.append(middleware)
        for event in _EVENTS:
            if getattr(type(middleware), event) is not getattr(JobMiddleware, event):
                self._by_event[event].append(getattr(middleware, event))

    def remove_middleware(self, middleware: JobMiddleware) -> None:
        """Take back what `add_middleware` added (redisq.testing's drain watches one run this way); workers
        that already started keep the middleware they were started with."""
        self.middleware.remove(middleware)
        for handlers in self._by_event.values():
            handlers[:] = [h for h in handlers if getattr(h, "__self__", None) is not middleware]

    def has(self, event: str) -> bool:
        return bool(self._by_event[event])

    async def notify(self, event: str, *args: Any) -> None:
        """`before` in the order the middleware was added, the outcomes in reverse (an onion)."""
        handlers = self._by_event[event]
        for handler in handlers if event == "before" else reversed(handlers):
            await _call(f"middleware {event}", handler, *args)

    async def worker_started(self, worker: WorkerContext) -> None:
        """Run the start hooks in order; the first that raises ends the start (HookFailed), after the
        stop hooks had their chance to close what the others opened."""
        for hook in self.start:
            try:
                outcome = hook(worker)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as exc:
                log.exception("worker start hook %r raised: the worker stops before taking a job", hook)
                await self.worker_stopped(worker)
                raise HookFailed(f"worker start hook {hook!r} raised {type(exc).__name__}: {exc}") from exc

    async def worker_stopped(self, worker: WorkerContext) -> None:
        """Every stop hook runs, in reverse order of registration, whatever the others raise."""
        for hook in reversed(self.stop):
            await _call("worker stop hook", hook, worker)


class HookRegistration:
    """The registering half, mixed into RedisQ: hooks are declared before a worker starts (as tasks)."""

    hooks: Hooks
    _frozen_by: str | None

    def _open_for(self, what: object) -> None:
        if self._frozen_by is not None:
            raise RegistryFrozen(
                f"cannot add {what!r}: {self._frozen_by} already started. Add hooks and middleware at "
                "import time of the module the worker loads, before starting workers."
            )

    def on_worker_start(self, fn: WorkerHook) -> WorkerHook:
        """Decorator: `fn(worker: WorkerContext)` (plain or async) runs once per worker before its first
        job; what it puts in `worker.state` every task of that worker can read."""
        self._open_for(fn)
        self.hooks.start.append(fn)
        return fn

    def on_worker_stop(self, fn: WorkerHook) -> WorkerHook:
        """Decorator: runs once per worker after its last job (reverse order of registration)."""
        self._open_for(fn)
        self.hooks.stop.append(fn)
        return fn

    def add_middleware(self, middleware: JobMiddleware) -> None:
        """Call `middleware` around every job that this client's workers take (see JobMiddleware)."""
        self._open_for(middleware)
        self.hooks.add_middleware(middleware)
