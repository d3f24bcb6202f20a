"""The one place where errors of the admin API become HTTP answers: a status and a JSON body.

Both adapters (the Starlette app and the FastAPI router) catch exceptions and ask `error_response` what to
send. An exception that is not listed here is a bug in redisq, left to become a 500; a client's mistake
(a bad parameter, an unknown job or task, arguments that do not fit) always maps to a 4xx.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

from redisq.core.errors import (
    ConcurrentUpdate,
    CorruptData,
    InvalidArguments,
    InvalidJobId,
    JobNotFound,
    MissingDependency,
    PayloadTooLarge,
    RedisQError,
    RedisUnavailable,
    ScheduleNotFound,
    SerializationError,
    TaskNotFound,
    WorkflowNotFound,
)


class ErrorBody(TypedDict, total=False):
    detail: str  # always present: a sentence for a person
    error: str  # always present: a stable code for a program
    field: str  # the parameter at fault (invalid_parameter)
    errors: list[str]  # every problem found, when a framework reports several
    state: str  # the job's state when an action does not apply to it (conflict)
    hint: str  # how to fix the server's configuration (not_authenticated)


class AdminError(RedisQError):
    """Raised by the admin layer itself (not the core); `extra` goes into the JSON body."""

    def __init__(self, detail: str, **extra: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class QueueNotFound(AdminError, LookupError):
    """The queue is neither known to Redis nor used by a registered task."""


class InvalidParameter(AdminError, ValueError):
    """A query parameter or body field out of its allowed values."""


class ActionNotAllowed(AdminError):
    """The job exists but its current state does not allow the action (the core answered False)."""


class NotAuthenticated(AdminError):
    """No access level was granted: no auth configured, or auth said no."""


class AccessDenied(AdminError):
    """Read-only access on a mutating route, or a cross-site request."""


class UnsupportedMediaType(AdminError):
    """A request body that is not JSON (a cross-site form can only send those types)."""


class BodyTooLarge(AdminError):
    """A request body over the size the admin API reads."""


# Checked in order: the first class the exception is an instance of decides (subclasses come first).
_STATUS: tuple[tuple[type[BaseException], int, str], ...] = (
    (NotAuthenticated, 401, "not_authenticated"),
    (AccessDenied, 403, "forbidden"),
    (QueueNotFound, 404, "queue_not_found"),
    (JobNotFound, 404, "job_not_found"),
    (InvalidJobId, 404, "job_not_found"),
    (ScheduleNotFound, 404, "schedule_not_found"),
    (WorkflowNotFound, 404, "workflow_not_found"),
    (ActionNotAllowed, 409, "conflict"),
    (ConcurrentUpdate, 409, "conflict"),
    (PayloadTooLarge, 413, "payload_too_large"),
    (BodyTooLarge, 413, "payload_too_large"),
    (UnsupportedMediaType, 415, "unsupported_media_type"),
    (InvalidParameter, 422, "invalid_parameter"),
    (TaskNotFound, 422, "task_not_found"),  # the name comes from the request body, not the URL
    (InvalidArguments, 422, "invalid_arguments"),
    (SerializationError, 422, "invalid_arguments"),
    (RedisUnavailable, 503, "redis_unavailable"),
    # /_metrics on a server without redisq[prometheus]: the detail names the pip command.
    (MissingDependency, 501, "not_installed"),
    # Not the client's mistake, and nothing was written: a queue's key holds another type (the detail
    # names it, for the operator who must repair it).
    (CorruptData, 500, "corrupt_data"),
)


def error_response(exc: BaseException) -> tuple[int, ErrorBody] | None:
    """The status and body for an error the admin API expects, else None (let it be a 500)."""
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            body: ErrorBody = {"detail": str(exc) or code.replace("_", " "), "error": code}
            if isinstance(exc, AdminError):
                body.update(exc.extra)  # type: ignore[typeddict-item]
            if isinstance(exc, RedisUnavailable):
                body["detail"] = "Redis is unavailable; try again shortly"  # not the server's address
            return status, body
    return None


def invalid_request(problems: Sequence[Mapping[str, Any]]) -> tuple[int, ErrorBody]:
    """A 422 in our shape from a framework's validation errors (pydantic's `loc`/`msg` dicts)."""
    messages = [
        ".".join(str(part) for part in p.get("loc", ()) if part not in ("body", "query", "path"))
        + f": {p.get('msg', 'invalid')}"
        for p in problems
    ]
    first = problems[0].get("loc", ()) if problems else ()
    field = str(first[-1]) if first else ""
    body: ErrorBody = {
        "detail": "; ".join(messages) or "invalid request",
        "error": "invalid_parameter",
        "field": field,
        "errors": messages,
    }
    return 422, body


def allowed_methods(methods: Iterable[str]) -> str:
    """The `Allow` header of a path served for `methods`: HEAD with GET, and OPTIONS, as every adapter
    answers them."""
    found = {m.upper() for m in methods}
    if "GET" in found:
        found.add("HEAD")
    return ", ".join(sorted(found | {"OPTIONS"}))


def http_error(status: int, detail: str) -> tuple[int, ErrorBody]:
    """Routing answers (404 no such route, 405 wrong method) in the same shape as every other error."""
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
    return status, {"detail": detail, "error": code}
