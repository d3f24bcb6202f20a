"""Context that travels from the code that enqueues a job into the job when it runs.

Web adapters set the request id and W3C trace context for the request being handled; every job enqueued
meanwhile stores them, and the worker sets them again (and `current_job`) while the job runs, so logs
and jobs enqueued from inside a job keep the same ids.
"""

from __future__ import annotations

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
