"""Context that travels from the code that enqueues a job into the job when it runs.

Web adapters set the request id and W3C trace context for the request being handled; every job enqueued
meanwhile stores them, and the worker sets them again (and `current_job`) while the job runs, so logs
and jobs enqueued from inside a job keep the same ids.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .errors import JobAborted

request_id: ContextVar[str | None] = ContextVar("redisq_request_id", default=None)
traceparent: ContextVar[str | None] = ContextVar("redisq_traceparent", default=None)


class AbortFlag:
    """Set once, from the event loop, when the job is asked to abort; read by the job's thread. A plain
    attribute (the GIL makes its write visible): a threading.Event took 6 us to create (timeit), for
    every job, where this takes 0.3 us."""

    __slots__ = ("is_set",)

    def __init__(self) -> None:
        self.is_set = False


@dataclass(frozen=True)
class WorkerContext:
    """One worker as its hooks and tasks see it: `state` holds what the start hooks opened (a DB pool)
    for every job of this worker; tasks reach it as `current_job.get().worker.state`."""

    id: str
    queues: tuple[str, ...]
    state: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 0  # the most jobs it runs at once (0: not a worker's, e.g. a test's context)


@dataclass(frozen=True)
class JobContext:
    """What a running task can learn about its own job, through `current_job.get()`."""

    id: str
    queue: str
    task: str
    attempt: int
    max_attempts: int
    worker: WorkerContext | None = None  # None only outside a worker (a task called directly)
    enqueued_at: float | None = None  # epoch seconds (the record's): when the job entered its queue
    # Of a job that waited for others (issue 16): job id -> how it ended (workflow_ops.DependencyOutcome).
    dependencies: Mapping[str, Any] = field(default_factory=dict, repr=False)
    _abort: AbortFlag = field(default_factory=AbortFlag, repr=False, compare=False)

    def dependency_results(self) -> dict[str, Any]:
        """The results of the jobs this one waited for that succeeded, by job id."""
        return {job_id: d.result for job_id, d in self.dependencies.items() if d.state == "succeeded"}

    def failed_dependencies(self) -> dict[str, str]:
        """The jobs this one waited for that did not succeed (its policy for them let it run: `continue`
        or `ignore`), with the state each ended in ('' for one not ended yet, under `continue`)."""
        return {job_id: d.state for job_id, d in self.dependencies.items() if d.state != "succeeded"}

    @property
    def aborted(self) -> bool:
        """True once `job.abort()` reached this job's worker: a `def` task should stop soon."""
        return self._abort.is_set

    def raise_if_aborted(self) -> None:
        """Raise JobAborted if the job was asked to stop (the worker then settles it `aborted`)."""
        if self._abort.is_set:
            raise JobAborted(f"job {self.id} was aborted")


current_job: ContextVar[JobContext | None] = ContextVar("redisq_current_job", default=None)


class LogContext(logging.Filter):
    """Puts `request_id`, `traceparent` and `job_id` ("-" when unset) on every record it sees.

    Add it to a handler (`handler.addFilter(LogContext())`) and use `%(request_id)s` in the format: a job's
    log lines then carry the id of the request that enqueued it. `redisq worker` does this by default.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        job = current_job.get()
        record.request_id = request_id.get() or "-"
        record.traceparent = traceparent.get() or "-"
        record.job_id = job.id if job is not None else "-"
        return True
