"""`RedisQ`: configuration, the task registry and the connections, with async and sync front ends."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, ParamSpec, Protocol, TypeVar, overload

from . import context, ops
from .backend import AsyncBackend, SyncBackend
from .codec import JobMeta
from .config import Settings
from .embedded import EmbeddedServer, start_embedded
from .errors import (
    ConfigurationError,
    InvalidArguments,
    RedisQError,
    RegistryFrozen,
    TaskNotFound,
)
from .hooks import HookRegistration, Hooks
from .job import DEFAULT_MAX_ATTEMPTS
from .jobs import Job
from .keys import QueueKeys, check_queue_name
from .limits import Limit, QueueLimit, RateLimit, refuse_shared_on_cluster, task_limits
from .operation import Op
from .queue_admin import QueueAdministration
from .schedule_api import Schedules, declare, remember, task_timing
from .schedules import JobTemplate, Schedule
from .search_api import JobSearch
from .server_health import ServerHealth
from .task import Backoff, Dedupe, JobSpec, Task, TaskOptions
from .topology import AsyncClient, SyncClient, Topology, async_client, parse_url, sync_client
from .tracing import Sending, Tracing
from .workflow_api import WorkflowEnqueue

log = logging.getLogger("redisq")


P = ParamSpec("P")
R = TypeVar("R")


class EagerRunner(Protocol):
    """What `RedisQ.eager` holds in tests (redisq.testing.eager): called with the jobs an enqueue wrote."""

    async def run(self, jobs: list[Job]) -> None: ...
    def run_sync(self, jobs: list[Job]) -> None: ...


class RedisQ(QueueAdministration, JobSearch, ServerHealth, HookRegistration, WorkflowEnqueue):
    """The entry point: `rq = RedisQ()`, `@rq.task(...)`, `await task.enqueue(...)`.

    Connections open lazily on first use and close with `aclose()`/`close()` or a `with` block. With no
    URL given or configured, the first connection starts an embedded throwaway server (see embedded.py).
    """

    def __init__(self, url: str | None = None, *, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = settings if settings is not None else Settings.from_env(url=url, **overrides)
        self.tasks: dict[str, Task[Any, Any]] = {}
        self.hooks = Hooks()  # on_worker_start, on_worker_stop, add_middleware (hooks.py)
        self.tracing = Tracing()  # OpenTelemetry spans, once a tracer provider exists (tracing.py)
        self.queue_limits: dict[str, QueueLimit] = {}  # enforced by the workers that serve each queue
        # Periodic jobs declared in code (issue 12), by id; workers upsert them at start.
        self.declared_schedules: dict[str, tuple[Schedule, JobTemplate]] = {}
        self.schedules = Schedules(self)  # run-time management: list, pause, resume, run now, ...
        self._frozen_by: str | None = None
        self._lock = threading.RLock()  # backend_sync() resolves the url (which may start a server) under it
        self._url: str | None = self.settings.url
        self._topology = None if self._url is None else parse_url(self._url)  # a bad URL fails here
        if self.settings.replica_acks and self._topology is not None and self._topology.kind == "cluster":
            # WAIT would have to go, on the enqueue's own connection, to the node of each queue's slot.
            raise ConfigurationError(
                "Settings.replica_acks is not supported on a Redis Cluster: use 0 there (a Cluster "
                "replicates asynchronously, as a Sentinel-run master does with replica_acks=0)"
            )
        self.embedded: EmbeddedServer | None = None
        self._sync: SyncBackend | None = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncBackend] = (
            weakref.WeakKeyDictionary()
        )
        self._keys: dict[str, QueueKeys] = {}
        self._queues_registered: set[str] = set()
        self._server_checked = False  # the first enqueue reads the server's settings (check_server)
        self._probe: SyncBackend | None = None  # sync health checks: socket timeouts of the health budget
        self.clock_offset_ms = 0  # added to now_ms(): redisq.testing's time travel; 0 in production
        self.eager: EagerRunner | None = None  # redisq.testing.eager: runs enqueued jobs at once

    def __repr__(self) -> str:
        return f"<RedisQ prefix={self.settings.prefix!r} tasks={len(self.tasks)}>"

    # ---- tasks ------------------------------------------------------------------------------------

    @overload
    def task(self, fn: Callable[P, R], /) -> Task[P, R]: ...

    @overload
    def task(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        timeout: float | None = None,
        retries: int = DEFAULT_MAX_ATTEMPTS - 1,
        backoff: Backoff | None = None,
        ttl: float | None = None,
        result_ttl: int | None = None,
        unique: bool | Callable[..., str] = False,
        dedupe: Dedupe | None = None,
        retry_on: tuple[type[BaseException], ...] | None = None,
        give_up_on: tuple[type[BaseException], ...] = (),
        rate_limit: RateLimit | str | None = None,
        max_concurrency: int | None = None,
        limit_key: Callable[..., object] | None = None,
        limits: Sequence[Limit] = (),
        schedule: str | timedelta | None = None,
        tz: str | None = None,
    ) -> Callable[[Callable[P, R]], Task[P, R]]: ...

    def task(
        self,
        fn: Callable[P, R] | None = None,
        /,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        timeout: float | None = None,
        retries: int = DEFAULT_MAX_ATTEMPTS - 1,
        backoff: Backoff | None = None,
        ttl: float | None = None,
        result_ttl: int | None = None,
        unique: bool | Callable[..., str] = False,
        dedupe: Dedupe | None = None,
        retry_on: tuple[type[BaseException], ...] | None = None,
        give_up_on: tuple[type[BaseException], ...] = (),
        rate_limit: RateLimit | str | None = None,
        max_concurrency: int | None = None,
        limit_key: Callable[..., object] | None = None,
        limits: Sequence[Limit] = (),
        schedule: str | timedelta | None = None,
        tz: str | None = None,
    ) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
        """Register a function (`async def` or plain `def`) as a task. `retry_on`: only these errors
        (and their subclasses) are retried; `give_up_on`: these never are (both: TaskOptions).

        `rate_limit` ("100/m" or RateLimit) and `max_concurrency` limit its jobs across every worker (per
        value of `limit_key(*args, **kwargs)` when given); `limits` names shared `Limit`s it counts against.
        `schedule` (a cron expression in time zone `tz`, or a timedelta) also runs it periodically, without
        arguments (see `schedule`).
        """
        timing = task_timing(schedule, tz)  # checked before anything is registered
        options = TaskOptions(
            queue=queue,
            priority=priority,
            timeout_s=timeout,
            retries=retries,
            backoff=backoff or Backoff(),
            ttl_s=ttl,
            result_ttl_s=result_ttl,
            unique=unique,
            dedupe=dedupe,
            retry_on=retry_on,
            give_up_on=give_up_on,
        )

        def register(f: Callable[P, R]) -> Task[P, R]:
            if self._frozen_by is not None:
                raise RegistryFrozen(
                    f"cannot register task {f.__qualname__}: {self._frozen_by} already started. Register "
                    "tasks at import time of the module the worker loads, before starting workers."
                )
            task_name = name or f"{f.__module__}.{f.__qualname__}"
            if task_name in self.tasks and self.tasks[task_name].fn is not f:
                raise ValueError(f"a different task is already registered as {task_name!r}")
            own = task_limits(task_name, rate_limit, max_concurrency, limit_key, limits)
            task = Task(self, f, task_name, dataclasses.replace(options, limits=own) if own else options)
            self.tasks[task_name] = task
            if timing:
                try:
                    self.schedule(task, **timing)
                except RedisQError:
                    del self.tasks[task_name]
                    raise
            return task

        return register(fn) if fn is not None else register

    def limit_queue(
        self, queue: str, *, rate_limit: RateLimit | str | None = None, max_concurrency: int | None = None
    ) -> None:
        """Limit a whole queue across every worker: at most `rate_limit` starts ("100/m") and at most
        `max_concurrency` running at once; its jobs wait in order, costing no attempt. Set before workers
        start (each worker applies its client's limits to the queues it serves)."""
        check_queue_name(queue, "queue")
        if self._frozen_by is not None:
            raise RegistryFrozen(f"cannot limit queue {queue!r}: {self._frozen_by} already started")
        limit = Limit(f"queue:{queue}", rate_limit, max_concurrency)  # checks the values
        self.queue_limits[queue] = QueueLimit(limit.rate, max_concurrency)

    def schedule(
        self,
        task: Task[Any, Any] | str,
        *,
        cron: str | None = None,
        every: timedelta | float | None = None,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        id: str | None = None,
        queue: str | None = None,
        tz: str | None = None,
        start: Any = None,
        end: Any = None,
        catch_up: str = "last",
    ) -> Schedule:
        """Run `task` periodically: `cron=` in time zone `tz` (UTC by default) or `every=`, between `start`
        and `end`; missed ticks `catch_up="last"` (once) or "skip". Checked now (ConfigurationError);
        workers write declared schedules when they start. See the README, "Periodic jobs"."""
        if self._frozen_by is not None:
            raise RegistryFrozen(f"cannot declare a schedule: {self._frozen_by} already started")
        return remember(
            self.declared_schedules,
            *declare(
                self, task, cron=cron, every=every, args=args, kwargs=kwargs, id=id, queue=queue, tz=tz,
                start=start, end=end, catch_up=catch_up,
            ),
        )  # fmt: skip

    def get_task(self, name: str) -> Task[Any, Any]:
        try:
            return self.tasks[name]
        except KeyError:
            raise TaskNotFound(f"no task registered as {name!r}") from None

    def freeze(self, by: str) -> None:
        """Called by workers: every worker of a deployment must run the same set of tasks."""
        self._frozen_by = by

    @property
    def queues(self) -> list[str]:
        """Queues that the registered tasks use, the default queue first."""
        names = {t.queue for t in self.tasks.values()} or {self.settings.default_queue}
        names.update(s.queue for s, _ in self.declared_schedules.values())
        return sorted(names, key=lambda q: (q != self.settings.default_queue, q))

    # ---- connections ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The Redis URL; resolving it starts the embedded server if none is configured."""
        if self._url is None:
            with self._lock:
                if self._url is None:
                    self.embedded = start_embedded()
                    log.warning(
                        "no REDISQ_URL or REDIS_URL set: started a throwaway local server at %s "
                        "(jobs are lost when this process exits)",
                        self.embedded.url,
                    )
                    self._url = self.embedded.url
        return self._url

    @property
    def topology(self) -> Topology:
        """What the URL names: one server, a Cluster or a Sentinel-run master (topology.py)."""
        if self._topology is None:
            self._topology = parse_url(self.url)
        return self._topology

    def async_client(self, **options: Any) -> AsyncClient:
        """A new asyncio client on this URL (workers hold their own, e.g. for blocking reads)."""
        return async_client(self.topology, **{"max_connections": self.settings.max_connections, **options})

    def sync_client(self, **options: Any) -> SyncClient:
        return sync_client(self.topology, **{"max_connections": self.settings.max_connections, **options})

    def backend(self) -> AsyncBackend:
        """The asyncio backend of the running event loop (clients cannot cross loops)."""
        loop = asyncio.get_running_loop()
        backend = self._async.get(loop)
        if backend is None:
            backend = self._async[loop] = AsyncBackend(self.async_client())
        return backend

    def backend_sync(self) -> SyncBackend:
        if self._sync is None:
            with self._lock:
                if self._sync is None:
                    self._sync = SyncBackend(self.sync_client())
        return self._sync

    def retarget(self, url: str | None, *, prefix: str | None = None) -> None:
        """Point this client at another server (None: REDISQ_URL, else an embedded one) and key prefix,
        closing its connections: what redisq.testing does to an app's module-level client before a test.
        Not while its workers run."""
        self.close()
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop runs in this thread: the connections of idle loops can be closed
            for loop, backend in list(self._async.items()):
                if not loop.is_closed() and not loop.is_running():  # a test's loop, between tests
                    loop.run_until_complete(backend.aclose())
        self._async = weakref.WeakKeyDictionary()
        changes: dict[str, Any] = {"url": url} if prefix is None else {"url": url, "prefix": prefix}
        self.settings = dataclasses.replace(self.settings, **changes)
        self._url, self._topology = url, None if url is None else parse_url(url)
        self._keys.clear()
        self._queues_registered.clear()
        self._server_checked = False

    def queue_keys(self, queue: str) -> QueueKeys:
        k = self._keys.get(queue)
        if k is None:
            k = self._keys[queue] = QueueKeys(self.settings.prefix, queue)
        return k

    def now_ms(self) -> int:
        """The time every script is given (Redis' own clock is never used for job times), in epoch ms.
        `clock_offset_ms` moves it for tests (redisq.testing.advance): one attribute read, no branch."""
        return int(time.time() * 1000) + self.clock_offset_ms

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        backend = self._async.pop(loop, None)
        if backend is not None:
            await backend.aclose()
        self.close()

    def close(self) -> None:
        """Close the sync connections (and the embedded server, if this client started one)."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded, self._url, self._topology = None, self.settings.url, None

    async def __aenter__(self) -> RedisQ:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self) -> RedisQ:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- enqueue ----------------------------------------------------------------------------------

    @staticmethod
    def _job_meta() -> JobMeta:
        meta: JobMeta = {}
        request_id, traceparent = context.request_id.get(), context.traceparent.get()
        if request_id:
            meta["request_id"] = request_id
        if traceparent:
            meta["traceparent"] = traceparent
        return meta

    def _on_cluster(self, specs: Sequence[JobSpec]) -> None:
        if self._topology is not None and self._topology.kind == "cluster":
            for spec in specs:
                if spec.limits:
                    refuse_shared_on_cluster(spec.limits)

    def _enqueue_op(
        self, specs: Sequence[JobSpec], metas: Sequence[JobMeta] = ()
    ) -> Op[list[tuple[str, str, bool]]]:
        self._on_cluster(specs)
        registered, now_ms = self._queues_registered, self.now_ms()
        return ops.enqueue(self.queue_keys, self.settings, specs, now_ms, self._job_meta(), registered, metas)

    def _enqueue_one_op(self, spec: JobSpec, meta: JobMeta | None = None) -> Op[tuple[str, str, bool]]:
        self._on_cluster((spec,))
        meta = self._job_meta() if meta is None else meta
        return ops.enqueue_one(self.queue_keys, self.settings, spec, self.now_ms(), meta)

    def _jobs(self, specs: Sequence[JobSpec], results: list[tuple[str, str, bool]]) -> list[Job]:
        self._queues_registered.update(s.queue for s in specs)
        return [Job.from_parts(self, queue, uid, created) for queue, uid, created in results]

    async def enqueue_many(self, specs: Sequence[JobSpec]) -> list[Job]:
        """Enqueue many jobs (from `task.call(...)`) in one round trip. Bad input raises, writing nothing."""
        if not specs:
            return []
        if not self._server_checked:
            with contextlib.suppress(RedisQError):  # the enqueue reports an outage itself
                await self.check_server()
        if any(spec.depends_on for spec in specs):
            return await self._enqueue_dependent(specs)
        if (tracer := self.tracing.tracer()) is not None:
            with Sending(tracer, specs, self._job_meta()) as sent:
                results = sent(await self.backend().run(self._enqueue_op(specs, sent.metas)))
        else:
            results = await self.backend().run(self._enqueue_op(specs))
        jobs = self._jobs(specs, results)
        if self.eager is not None:
            await self.eager.run(jobs)
        return jobs

    def enqueue_many_sync(self, specs: Sequence[JobSpec]) -> list[Job]:
        if not specs:
            return []
        if not self._server_checked:
            with contextlib.suppress(RedisQError):
                self.check_server_sync()
        if any(spec.depends_on for spec in specs):
            return self._enqueue_dependent_sync(specs)
        if (tracer := self.tracing.tracer()) is not None:
            with Sending(tracer, specs, self._job_meta()) as sent:
                results = sent(self.backend_sync().run(self._enqueue_op(specs, sent.metas)))
        else:
            results = self.backend_sync().run(self._enqueue_op(specs))
        jobs = self._jobs(specs, results)
        if self.eager is not None:
            self.eager.run_sync(jobs)
        return jobs

    # What `task.enqueue()` and `task.delay()` call: one job, the lean operation once its queue is known.
    async def _enqueue_one(self, spec: JobSpec) -> Job:
        if spec.queue not in self._queues_registered or spec.depends_on:
            return (await self.enqueue_many([spec]))[0]
        if (tracer := self.tracing.tracer()) is not None:
            with Sending(tracer, (spec,), self._job_meta()) as sent:
                [result] = sent([await self.backend().run(self._enqueue_one_op(spec, sent.meta))])
        else:
            result = await self.backend().run(self._enqueue_one_op(spec))
        job = Job.from_parts(self, *result)
        if self.eager is not None:
            await self.eager.run([job])
        return job

    def _enqueue_one_sync(self, spec: JobSpec) -> Job:
        if spec.queue not in self._queues_registered or spec.depends_on:
            return self.enqueue_many_sync([spec])[0]
        if (tracer := self.tracing.tracer()) is not None:
            with Sending(tracer, (spec,), self._job_meta()) as sent:
                [result] = sent([self.backend_sync().run(self._enqueue_one_op(spec, sent.meta))])
        else:
            result = self.backend_sync().run(self._enqueue_one_op(spec))
        job = Job.from_parts(self, *result)
        if self.eager is not None:
            self.eager.run_sync([job])
        return job

    def job(self, job_id: str) -> Job:
        return Job(self, job_id)

    def call_by_name(
        self, name: str, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None, **options: Any
    ) -> JobSpec:
        """A spec for a registered task from untrusted arguments (e.g. JSON over HTTP), checked now;
        `options` are those of `task.with_options` (queue, delay_s, priority, ...).

        Raises TaskNotFound, or InvalidArguments when they do not fit the task's signature and types.
        """
        task = self.get_task(name)
        kwargs = kwargs or {}
        try:
            task.coerce.check_plain_types(*task.coerce(list(args), dict(kwargs)))
            return (task.with_options(**options) if options else task).call(*args, **kwargs)
        except Exception as exc:  # binding or converting: TypeError, ValueError, pydantic's errors
            raise InvalidArguments(f"arguments do not fit {name}: {exc}") from exc
