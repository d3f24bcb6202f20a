"""What every web adapter (ASGI, Flask, Django) shares: request ids, trace context, after-response job
lists."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from contextvars import Token

from redisq.core import context
from redisq.core.task import JobSpec

RequestTokens = tuple[Token[str | None], Token[str | None]]

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


def bind_request(request_id_header: str | None, traceparent_header: str | None) -> tuple[str, RequestTokens]:
    """Set a request's id (its header's if usable, else a new one) and trace context for the jobs it
    enqueues; returns the id and what `unbind_request` needs at the request's end."""
    request_id = request_id_from(request_id_header)
    tokens = (
        context.request_id.set(request_id),
        context.traceparent.set(valid_traceparent(traceparent_header)),
    )
    return request_id, tokens


def unbind_request(tokens: RequestTokens) -> None:
    context.traceparent.reset(tokens[1])
    context.request_id.reset(tokens[0])


def collect_specs(pending: list[JobSpec], specs: Iterable[JobSpec | Iterable[JobSpec]]) -> None:
    """Add job specs, given one by one or as iterables, to a request's after-response list."""
    for spec in specs:
        if isinstance(spec, JobSpec):
            pending.append(spec)
        else:
            pending.extend(spec)
