"""Tasks in a Django project: `@task` registers on the project's client; each job a worker runs gets the
database connection handling a request gets; `enqueue_on_commit` waits for the transaction.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar, overload

from asgiref.sync import sync_to_async
from django.db import connections, transaction

from redisq.core.context import current_job
from redisq.core.task import JobSpec, Task
from redisq.integrations.web import collect_specs

from .state import client

P = ParamSpec("P")
R = TypeVar("R")


def close_old_connections() -> None:
    """Django's own close_old_connections (what it runs around each request), but never inside an atomic
    block: a task called directly, or run at once by redisq.testing's eager mode inside a test's
    transaction, keeps that transaction's connection."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def in_worker_job(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn`, which in a worker's job closes the database connections that are broken or past CONN_MAX_AGE
    before and after it runs, as Django does around a request: a worker that runs for weeks survives a
    database restart, and a job never starts on a connection the last one left in a bad state. Elsewhere
    (a direct call) it is `fn` alone.

    A plain `def` task runs in one of the worker's threads, so it touches that thread's connections. An
    `async def` task's ORM calls (`aget`, `asave`, or `sync_to_async`) run in asgiref's one thread for
    sync code, so its connections are closed there."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            if current_job.get() is None:
                return await fn(*args, **kwargs)
            await sync_to_async(close_old_connections)()
            try:
                return await fn(*args, **kwargs)
            finally:
                await sync_to_async(close_old_connections)()

        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if current_job.get() is None:
            return fn(*args, **kwargs)
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return run


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(fn: None = None, /, **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(
    fn: Callable[P, R] | None = None, /, **options: Any
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """`@task` or `@task(queue="emails", retries=5, ...)` (the options of the core `RedisQ.task`): the
    function becomes a task of the project's client, named by its module and name. Declare tasks in an
    app's `tasks.py` (or a module in REDISQ["IMPORTS"]) so the worker imports them at start."""

    def declare(f: Callable[P, R]) -> Task[P, R]:
        return client().task(**options)(in_worker_job(f))

    return declare(fn) if fn is not None else declare


def enqueue_on_commit(
    *specs: JobSpec | Iterable[JobSpec], using: str | None = None, robust: bool = False
) -> None:
    """Enqueue these jobs (from `task.call(...)`) once the current transaction of database `using`
    commits, and never if it rolls back: a job never runs before the rows it reads exist. Outside a
    transaction (autocommit) they are enqueued at once.

    They are enqueued after the commit, so if Redis cannot take them then, the commit stands and the error
    (RedisUnavailable) is raised where the atomic block ends; `robust=True` logs it instead and lets the
    other on-commit callbacks run (Django's `on_commit(robust=...)`)."""
    pending: list[JobSpec] = []
    collect_specs(pending, specs)
    if not pending:
        return
    rq = client()
    transaction.on_commit(lambda: rq.enqueue_many_sync(pending), using=using, robust=robust)
