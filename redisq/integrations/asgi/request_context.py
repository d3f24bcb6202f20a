"""What a request hands to the jobs it enqueues: its id, its W3C trace context, and after-response jobs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from contextvars import ContextVar

from redisq.core.task import JobSpec

# An incoming id is kept only if it is short and plain: it ends up in logs and job records.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# W3C Trace Context, version 00 form; other versions are read by their first four fields, as the spec asks.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


def request_id_from(header: str | None) -> str:
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def valid_traceparent(header: str | None) -> str | None:
    """The header if it is a valid trace context, else None (an invalid one must be ignored, not fixed)."""
    if not header:
        return None
    match = _TRACEPARENT.fullmatch(header.strip().lower())
    if match is None:
        return None
    version, trace_id, parent_id, _flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or set(trace_id) == {"0"} or set(parent_id) == {"0"}:
        return None
    return match.group(0)


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
    for spec in specs:
        if isinstance(spec, JobSpec):
            pending.append(spec)
        else:
            pending.extend(spec)
