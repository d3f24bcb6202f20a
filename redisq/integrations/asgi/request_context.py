"""What a request hands to its jobs (its id and trace context: see web.py), and after-response jobs."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

from redisq.core.task import JobSpec
from redisq.integrations.web import collect_specs

# Jobs to enqueue when (and only if) the response being handled turns out to be a success.
after_response_jobs: ContextVar[list[JobSpec] | None] = ContextVar("redisq_after_response", default=None)


def enqueue_after_response(*specs: JobSpec | Iterable[JobSpec]) -> None:
    """Enqueue these jobs (from `task.call(...)`) if the handler answers with a status below 400.

    They are written to Redis before the response starts: a success status means the jobs are stored. If
    Redis cannot take them, the client gets a 503 instead of the handler's response.
    """
    pending = after_response_jobs.get()
    if pending is None:
        raise RuntimeError(
            "enqueue_after_response() needs RedisQMiddleware around the app, and a request being handled"
        )
    collect_specs(pending, specs)
