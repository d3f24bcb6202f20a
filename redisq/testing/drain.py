"""Run a client's jobs in-process until its queues are drained, and move its clock (redisq.testing).

`drain` is the burst worker (Worker(burst=True), worker/burst.py) run in the caller's event loop: the
jobs run exactly as a deployed worker runs them (same runner, leases, retries, limits, middleware),
against the real Redis. A private middleware of that one worker counts the outcomes and keeps what each
failed attempt raised, so a test sees every failure, and can have the first one raised.

Time travel: every job time (enqueue's due time, fetch's "due now", retry backoffs, schedule ticks,
lease deadlines) is `RedisQ.now_ms()`, passed to the scripts from Python; `advance` moves that clock
for one client. Redis' own expiries (result and dead-letter TTLs) keep real time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from redisq.core.backend import AsyncBackend
from redisq.core.client import RedisQ
from redisq.core.config import WorkerSettings
from redisq.core.context import JobContext
from redisq.core.errors import JobFailed
from redisq.core.hooks import JobMiddleware
from redisq.core.job import JobError, JobState
from redisq.core.worker.scheduler import ScheduleLoop
from redisq.core.worker.worker import Worker

T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """One failed attempt: what the task raised (for a job refused unexecuted, e.g. an unknown task or
    arguments that do not fit, a JobFailed naming the reason)."""

    job_id: str
    task: str
    attempt: int
    error: BaseException


@dataclass
class DrainReport:
    """What one drain ran, per outcome of each attempt."""

    succeeded: int = 0
    retried: int = 0  # failed attempts that will run again (after their backoff: `advance` and drain again)
    dead: int = 0  # last attempts that failed, errors that are not retried, jobs refused unexecuted
    aborted: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def ran(self) -> int:
        return self.succeeded + self.retried + self.dead + self.aborted


class _Recorder(JobMiddleware):
    """Counts the outcomes of one worker's jobs (other workers of the same client may be running)."""

    def __init__(self, report: DrainReport, worker_id: str) -> None:
        self.report = report
        self.worker_id = worker_id
        self._failed: set[tuple[str, int]] = set()  # (job id, attempt) already in failures

    def _ours(self, job: JobContext) -> bool:
        return job.worker is not None and job.worker.id == self.worker_id

    def after(self, job: JobContext, result: Any) -> None:
        if self._ours(job):
            self.report.succeeded += 1

    def on_failure(self, job: JobContext, exc: BaseException) -> None:
        if self._ours(job):
            self._failed.add((job.id, job.attempt))
            self.report.failures.append(Failure(job.id, job.task, job.attempt, exc))

    def on_retry(self, job: JobContext, exc: BaseException, retry_at: Any) -> None:
        if self._ours(job):
            self.report.retried += 1

    def on_dead(self, job: JobContext, reason: BaseException | str) -> None:
        if not self._ours(job):
            return
        self.report.dead += 1
        if (job.id, job.attempt) in self._failed:
            return
        if isinstance(reason, str):  # refused unexecuted: "<kind>: <message>"
            kind, _, message = reason.partition(": ")
            reason = JobFailed(job.id, JobState.DEAD, JobError(kind, message, ""))
        self.report.failures.append(Failure(job.id, job.task, job.attempt, reason))

    def on_abort(self, job: JobContext) -> None:
        if self._ours(job):
            self.report.aborted += 1


async def _claim_due_ticks(rq: RedisQ, queues: Sequence[str]) -> None:
    """Write the declared schedules and enqueue their due ticks before the burst worker looks: its own
    schedule loop runs beside its fetch loop, and could find the queues drained before claiming a tick."""
    backend = AsyncBackend(rq.async_client())
    try:
        loop = ScheduleLoop(rq, backend, queues, asyncio.Event())
        await loop.sync_declared()
        await loop.tick()
    finally:
        await backend.aclose()


async def drain(
    rq: RedisQ,
    queues: Sequence[str] | None = None,
    *,
    raise_on_failure: bool = False,
    settings: WorkerSettings | None = None,
) -> DrainReport:
    """Run every due job of `queues` (default: the queues of `rq`'s tasks and schedules) in this event
    loop until none is queued, due or running, then return what ran. Jobs that the jobs enqueue run too;
    jobs scheduled for later stay (see `advance`). `raise_on_failure`: once drained, raise what the first
    failed attempt raised. Freezes `rq`'s task registry, as any worker does."""
    names = list(queues) if queues is not None else rq.queues
    worker = Worker(rq, names, settings=settings, burst=True)
    report = DrainReport()
    recorder = _Recorder(report, worker.id)
    rq.hooks.add_middleware(recorder)
    try:
        await _claim_due_ticks(rq, names)
        await worker.run()
    finally:
        rq.hooks.remove_middleware(recorder)
    if raise_on_failure and report.failures:
        raise report.failures[0].error
    return report


def drain_sync(
    rq: RedisQ,
    queues: Sequence[str] | None = None,
    *,
    raise_on_failure: bool = False,
    settings: WorkerSettings | None = None,
) -> DrainReport:
    """`drain` for sync code (a test function, a Flask view): see `run_blocking` for where it runs."""
    return run_blocking(rq, lambda: drain(rq, queues, raise_on_failure=raise_on_failure, settings=settings))


def run_blocking(rq: RedisQ, make: Callable[[], Awaitable[T]]) -> T:
    """Run `make()` to completion from sync code, on an event loop of its own: in this thread when none
    runs here (a test function, a Flask view, FastAPI's threadpool for `def` endpoints), else in a helper
    thread while this one waits (sync code called from async code blocks its loop for that long anyway:
    the jobs cannot run on a loop that is blocked)."""

    async def own_loop() -> T:
        try:
            return await make()
        finally:
            # The connections `rq` opened on this loop (the worker's server check, jobs that enqueue)
            # would outlive it, unclosed.
            backend = rq._async.pop(asyncio.get_running_loop(), None)
            if backend is not None:
                await backend.aclose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(own_loop())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="redisq-testing") as pool:
        return pool.submit(asyncio.run, own_loop()).result()


def advance(rq: RedisQ, by: float | timedelta) -> None:
    """Move `rq`'s clock forward by `by` seconds: delayed jobs, retry backoffs, rate limits and schedule
    ticks that fall within become due for the next `drain`. Jobs enqueued afterwards are stamped on the
    moved clock too. Redis' own TTLs (of results, dead letters) keep real time."""
    seconds = by.total_seconds() if isinstance(by, timedelta) else by
    if seconds < 0:
        raise ValueError("advance() moves the clock forward only")
    rq.clock_offset_ms += int(seconds * 1000)
