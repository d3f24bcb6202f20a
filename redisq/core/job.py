"""Job states and the read-only record of a job, parsed from its Redis hash."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypedDict

from . import codec

# What a record leaves out when a job has it (scripts/common.lua, issue 15): a task's default number of
# attempts (its default retries + 1; MAX_ATTEMPTS there), and the state `queued`.
DEFAULT_MAX_ATTEMPTS = 4


class JobState(str, enum.Enum):
    WAITING = "waiting"  # for the jobs it depends on to end (issue 16: workflows)
    SCHEDULED = "scheduled"  # waiting for its due time (a delay, an eta, or a retry's backoff)
    QUEUED = "queued"
    ACTIVE = "active"  # leased to a worker
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # failed its last attempt, or could never run (unknown task, malformed payload)
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # its ttl passed before a worker started it
    ABORTED = "aborted"  # stopped while it ran (`job.abort()`); never retried

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset(
    {JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED, JobState.EXPIRED, JobState.ABORTED}
)


class _ErrorFields(TypedDict):
    type: str
    message: str
    traceback: str


class ErrorPayload(_ErrorFields, total=False):
    note: str


@dataclass(frozen=True)
class JobError:
    type: str
    message: str
    traceback: str
    note: str = ""  # why the job was not retried, when its error may not be (retry_on, give_up_on)

    @classmethod
    def from_json(cls, raw: bytes | str) -> JobError:
        try:
            data = codec.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):  # written by something else than redisq: shown as it is
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
            return cls(type="", message=text, traceback="")
        return cls(
            type=str(data.get("type", "")),
            message=str(data.get("message", "")),
            traceback=str(data.get("traceback", "")),
            note=str(data.get("note", "")),
        )

    def to_json(self) -> bytes:
        payload: ErrorPayload = {"type": self.type, "message": self.message, "traceback": self.traceback}
        if self.note:
            payload["note"] = self.note
        return codec.dumps(payload)


# A record's fields are read leniently: a damaged one (issue 11) must still be shown, with its error.


def record_payload(fields: dict[bytes, bytes]) -> bytes:
    """A record's payload: its `payload` field, else its pieces `p1`..`pN` (`pn` of them), which keep the
    record in Redis's compact encoding (see add_payload in common.lua); b"" when it has neither."""
    whole = fields.get(b"payload")
    if whole is not None:
        return whole
    pieces = []
    for i in range(1, _int(fields.get(b"pn"), 0) + 1):
        piece = fields.get(b"p%d" % i)
        if piece is None:
            return b""
        pieces.append(piece)
    return b"".join(pieces)


def _int(raw: bytes | None, default: int) -> int:
    try:
        return default if raw is None else int(raw)
    except ValueError:
        return default


def _time(raw: bytes | None) -> datetime | None:
    ms = _int(raw, -1)
    try:
        return None if ms < 0 else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _json(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return codec.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _state(raw: bytes | None, default: JobState) -> JobState:
    try:
        return default if raw is None else JobState(raw.decode(errors="replace"))
    except ValueError:
        return default


@dataclass(frozen=True)
class JobInfo:
    """A snapshot of one job."""

    id: str
    queue: str
    task: str
    state: JobState
    attempts: int
    max_attempts: int
    priority: int
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    due_at: datetime | None
    expires_at: datetime | None
    recovered: int  # deliveries taken back from a worker whose lease lapsed
    worker: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    meta: codec.JobMeta
    error: JobError | None
    result: Any
    progress: dict[str, Any] | None = None  # {"value": 0..1, "note": ...} as the task last reported it

    @property
    def request_id(self) -> str | None:
        """The id of the web request that enqueued the job, if one did (see RedisQMiddleware)."""
        return self.meta.get("request_id")

    @property
    def traceparent(self) -> str | None:
        return self.meta.get("traceparent")

    @classmethod
    def from_hash(
        cls, job_id: str, queue: str, fields: dict[bytes, bytes], state: JobState = JobState.QUEUED
    ) -> JobInfo:
        """`state`: what to show when the record has none it knows (the index it was found in)."""

        def num(name: bytes, default: int = 0) -> int:
            return _int(fields.get(name), default)

        task, args, kwargs = "", [], {}
        meta: codec.JobMeta = {}
        try:
            envelope = codec.decode_envelope(record_payload(fields))
            task, args, kwargs, meta = (
                envelope["task"],
                envelope["args"],
                envelope["kwargs"],
                envelope["meta"],
            )
        except codec.MalformedPayload:
            pass  # the record is still shown; its error says why it never ran
        raw_error, raw_result = fields.get(b"error"), fields.get(b"result")
        worker = fields.get(b"worker")
        return cls(
            id=job_id,
            queue=queue,
            task=task,
            state=_state(fields.get(b"state"), state),
            attempts=num(b"attempts"),
            max_attempts=num(b"max_attempts", DEFAULT_MAX_ATTEMPTS),
            priority=num(b"priority"),
            enqueued_at=_time(fields.get(b"enqueued_at")),
            started_at=_time(fields.get(b"started_at")),
            finished_at=_time(fields.get(b"finished_at")),
            due_at=_time(fields.get(b"due_at")),
            expires_at=_time(fields.get(b"expires_at")),
            recovered=num(b"recovered"),
            worker=worker.decode() if worker else None,
            args=args,
            kwargs=kwargs,
            meta=meta,
            error=JobError.from_json(raw_error) if raw_error else None,
            result=_json(raw_result),
            progress=progress if isinstance(progress := _json(fields.get(b"progress")), dict) else None,
        )
