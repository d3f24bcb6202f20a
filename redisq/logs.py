"""Log lines as JSON objects, one a line, that carry the running job's fields (issue 14).

`redisq worker --log-format json` (and `flask redisq worker --log-format json`) switches the worker's
stderr lines to this. In your own logging config, add the two pieces to a handler:

    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "redisq.logs.JsonFormatter"}},
    "filters": {"job": {"()": "redisq.logs.JobContextFilter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["job"]}},

Every line has `time` (ISO 8601, UTC), `level`, `logger` and `message`; inside a job also `queue`, `task`,
`job_id` and `attempt`; `request_id` and `trace_id` when the job (or the request being handled) has them;
what a call passes as `extra=` (the worker's end line of each attempt: `outcome`, `duration_s`); and
`exception` (the formatted traceback, one string) when the record has one. With structlog, put
`add_job_context` in the processors for the same job fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from datetime import datetime, timezone
from typing import Any, TypeVar

import click
import orjson

from .core import context, tracing
from .core.context import LogContext

__all__ = ["JobContextFilter", "JsonFormatter", "add_job_context", "job_fields", "log_format_option"]

F = TypeVar("F", bound=Callable[..., Any])

# What every LogRecord carries by itself: the rest of its attributes came from `extra=` or a filter.
_RECORD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
# LogContext's attributes for text formats, "-" when unset: JSON has `trace_id`, and leaves unset fields out.
_TEXT_ONLY = frozenset(("traceparent",))
_PLACEHOLDERS = frozenset(("request_id", "job_id"))
_MARK = "_redisq_job_fields"


def job_fields() -> dict[str, Any]:
    """The fields of the job running in this context, and of the request that enqueued it (or is being
    handled): what JobContextFilter and add_job_context add to a log line."""
    fields: dict[str, Any] = {}
    job = context.current_job.get()
    if job is not None:
        fields["queue"], fields["task"], fields["job_id"] = job.queue, job.task, job.id
        fields["attempt"] = job.attempt
    request_id = context.request_id.get()
    if request_id:
        fields["request_id"] = request_id
    traceparent = context.traceparent.get()
    # version-traceid-spanid-flags; the header was checked where it came in (web.py) or was written by us
    trace_id = traceparent[3:35] if traceparent else tracing.current_trace_id()
    if trace_id:
        fields["trace_id"] = trace_id
    return fields


class JobContextFilter(logging.Filter):
    """Puts the job's fields (`job_fields()`) on every record it sees, in the context that logs it (a
    handler that formats later, a QueueHandler's listener, would no longer know the job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        values = record.__dict__
        values.update(job_fields())
        values[_MARK] = True
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line. Without JobContextFilter on the handler, the job's fields
    are read when the record is formatted (right, for a handler that formats where it is called)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        values = record.__dict__
        if _MARK not in values:
            line.update(job_fields())
        for name, value in values.items():
            if name in _RECORD or name in _TEXT_ONLY or name.startswith("_"):
                continue
            if name in _PLACEHOLDERS and value == "-":
                continue
            line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=repr).decode()


def add_job_context(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    """A structlog processor: adds the job's fields (`job_fields()`) to the event, keeping what the call
    gave itself. Put it before the renderer, e.g. `structlog.configure(processors=[add_job_context, ...,
    structlog.processors.JSONRenderer()])`."""
    for name, value in job_fields().items():
        event_dict.setdefault(name, value)
    return event_dict


def use_json_logs() -> None:
    """Turn the stderr handler that `redisq` commands install (console.configure_logging) into JSON lines;
    install it first if no command did yet (`flask redisq worker` does in its body)."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if any(isinstance(f, LogContext) for f in h.filters)]
    if not ours:
        from .console import configure_logging

        configure_logging()
        ours = [h for h in root.handlers if any(isinstance(f, LogContext) for f in h.filters)]
    for handler in ours:
        for text_filter in [f for f in handler.filters if isinstance(f, LogContext)]:
            handler.removeFilter(text_filter)
        handler.addFilter(JobContextFilter())
        handler.setFormatter(JsonFormatter())


def _log_format(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if value == "json":
        use_json_logs()
    return value


def log_format_option(command: F) -> F:
    """`--log-format text|json` for a worker command (`redisq worker`, `flask redisq worker`); applied as
    the option is read, so the command itself takes no argument for it."""
    return click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        envvar="REDISQ_LOG_FORMAT",
        expose_value=False,
        callback=_log_format,
        help="Log lines as text, or as one JSON object a line (with the job's fields; redisq.logs).",
    )(command)
