"""Job states and the read-only record of a job, parsed from its Redis hash."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypedDict

from . import codec


class JobState(str, enum.Enum):
    SCHEDULED = "scheduled"  # waiting for its due time (a delay, an eta, or a retry's backoff)
    QUEUED = "queued"
    ACTIVE = "active"  # leased to a worker
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # failed its last attempt, or could never run (unknown task, malformed payload)
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # its ttl passed before a worker started it

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED, JobState.EXPIRED})


class ErrorPayload(TypedDict):
    type: str
    message: str
    traceback: str


@dataclass(frozen=True)
class JobError:
    type: str
    message: str
    traceback: str

    @classmethod
    def from_json(cls, raw: bytes | str) -> JobError:
        data = codec.loads(raw)
        return cls(
            type=str(data.get("type", "")),
            message=str(data.get("message", "")),
            traceback=str(data.get("traceback", "")),
        )

    def to_json(self) -> bytes:
        payload: ErrorPayload = {"type": self.type, "message": self.message, "traceback": self.traceback}
        return codec.dumps(payload)


def _time(raw: bytes | None) -> datetime | None:
    return None if raw is None else datetime.fromtimestamp(int(raw) / 1000, tz=timezone.utc)


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
    def from_hash(cls, job_id: str, queue: str, fields: dict[bytes, bytes]) -> JobInfo:
        def num(name: bytes, default: int = 0) -> int:
            raw = fields.get(name)
            return default if raw is None else int(raw)

        task, args, kwargs = "", [], {}
        meta: codec.JobMeta = {}
        try:
            envelope = codec.decode_envelope(fields.get(b"payload", b""))
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
            state=JobState(fields.get(b"state", b"queued").decode()),
            attempts=num(b"attempts"),
            max_attempts=num(b"max_attempts", 1),
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
            result=codec.loads(raw_result) if raw_result else None,
            progress=codec.loads(raw_progress) if (raw_progress := fields.get(b"progress")) else None,
        )
