"""Context that travels from the code that enqueues a job into the job when it runs.

Web adapters set the request id and W3C trace context for the request being handled; every job enqueued
meanwhile stores them, and the worker sets them again (and `current_job`) while the job runs, so logs
and jobs enqueued from inside a job keep the same ids.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass

request_id: ContextVar[str | None] = ContextVar("redisq_request_id", default=None)
traceparent: ContextVar[str | None] = ContextVar("redisq_traceparent", default=None)


@dataclass(frozen=True)
class JobContext:
    """What a running task can learn about its own job, through `current_job.get()`."""

    id: str
    queue: str
    task: str
    attempt: int
    max_attempts: int


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
