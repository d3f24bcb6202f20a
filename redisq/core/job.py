"""Job states and the read-only record of a job, parsed from its Redis hash."""

from __future__ import annotations

import enum
import re
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


def _moment(ms: int) -> datetime | None:
    try:
        return None if ms < 0 else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _time(raw: bytes | None) -> datetime | None:
    return _moment(_int(raw, -1))


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


class AttemptOutcome(str, enum.Enum):
    """How one attempt of a job ended (`JobInfo.attempt_log`)."""

    FAILED = "failed"  # it raised, and the job was retried
    LOST = "lost"  # its worker stopped renewing its lease (died, or lost Redis); the sweeper took it back
    DEAD = "dead"  # it ended the job dead
    SUCCEEDED = "succeeded"
    ABORTED = "aborted"
    RUNNING = "running"  # the latest attempt, still going


# A history line's message is cut to this many bytes by attempts.lua; the latest attempt's is cut the same.
MESSAGE_MAX = 200


def first_line(message: str) -> str:
    """The first line of an error message, at most MESSAGE_MAX bytes (as attempts.lua keeps it)."""
    line = re.split(r"[\r\n]", message, maxsplit=1)[0]
    if len(line.encode()) <= MESSAGE_MAX:
        return line
    return line.encode()[:MESSAGE_MAX].decode(errors="ignore") + "\u2026"


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt of a job: where it ran, when, how it ended and, if it failed, why (the type and the first
    line of the message: the whole traceback is kept for the latest attempt only)."""

    attempt: int  # 1-based, counted since the job was (re)queued: a dead job put back starts again at 1
    worker: str | None
    started_at: datetime | None
    finished_at: datetime | None  # None while it runs; for a lost attempt, when the sweeper found it lapsed
    outcome: AttemptOutcome
    error_type: str = ""
    error_message: str = ""


def _history(raw: bytes | None) -> tuple[AttemptRecord, ...]:
    """The record's `history` (attempts.lua: a line per attempt, each a JSON array); a line that cannot be
    read is left out, as a damaged field must not hide the job."""
    if not raw:
        return ()
    out = []
    for line in raw.split(b"\n"):
        try:
            values = codec.loads(line.decode(errors="replace"))  # a damaged value may not be UTF-8
            attempt, worker, started, ended, outcome, kind, message = values
            out.append(
                AttemptRecord(
                    attempt=int(attempt),
                    worker=str(worker) or None,
                    started_at=None if started is None else _moment(int(started)),
                    finished_at=None if ended is None else _moment(int(ended)),
                    outcome=AttemptOutcome(outcome),
                    error_type=str(kind),
                    error_message=str(message),
                )
            )
        except (ValueError, TypeError):  # not JSON, not 7 values, a number or an outcome that is not one
            continue
    return tuple(out)


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
    # Its earlier attempts, oldest first (attempts.lua: at most the last 25); the latest is in the fields
    # above (started_at, worker, finished_at, error): `attempt_log()` has them all.
    history: tuple[AttemptRecord, ...] = ()

    @property
    def request_id(self) -> str | None:
        """The id of the web request that enqueued the job, if one did (see RedisQMiddleware)."""
        return self.meta.get("request_id")

    @property
    def traceparent(self) -> str | None:
        return self.meta.get("traceparent")

    def attempt_log(self) -> list[AttemptRecord]:
        """Every attempt kept, oldest first: the history, then the latest attempt when the record's fields
        describe one that is not in it yet (it runs, or it ended the job). A job waiting for its next try
        (scheduled, or queued after a recovery or a requeue) has its last attempt in the history already,
        and one that never started has none."""
        latest = _LATEST_OUTCOME.get(self.state)
        if latest is None or self.started_at is None:
            return list(self.history)
        failed = latest in (AttemptOutcome.DEAD, AttemptOutcome.ABORTED) and self.error is not None
        error = self.error if failed else None  # a success's `error` is an earlier attempt's
        current = AttemptRecord(
            attempt=self.attempts,
            worker=self.worker,
            started_at=self.started_at,
            finished_at=None if latest is AttemptOutcome.RUNNING else self.finished_at,
            outcome=latest,
            error_type=error.type if error else "",
            error_message=first_line(error.message) if error else "",
        )
        return [*self.history, current]

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
            history=_history(fields.get(b"history")),
        )


# The states in which a record's own fields describe an attempt that is not in its history yet.
_LATEST_OUTCOME = {
    JobState.ACTIVE: AttemptOutcome.RUNNING,
    JobState.SUCCEEDED: AttemptOutcome.SUCCEEDED,
    JobState.DEAD: AttemptOutcome.DEAD,
    JobState.ABORTED: AttemptOutcome.ABORTED,
}
