"""The JSON payloads of the `/queues` admin API, as TypedDicts, and how core values become them.

Every adapter sends exactly these; the FastAPI router describes them again as pydantic models (its
`models.py`) for the OpenAPI schema.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, TypedDict, cast

from redisq.core.client import RedisQ
from redisq.core.health import HealthReport
from redisq.core.job import AttemptRecord, JobInfo
from redisq.core.keys import ID_SEPARATOR, make_job_id
from redisq.core.limits import Limit, QueueLimit
from redisq.core.schedules import ScheduleInfo
from redisq.core.stats import QueueStats, WorkerInfo


class LimitBody(TypedDict):
    name: str
    applies_to: list[str]  # ["*"]: the whole queue; else the task names whose jobs count against it
    rate_limit: str | None  # "50/1s": starts per period
    burst: int
    max_concurrency: int | None
    per_key: bool  # each value of the limit's key has its own allowance
    shared: bool  # counted across every queue that uses it


class QueueSummary(TypedDict):
    queue: str
    paused: bool
    queued: int
    scheduled: int
    active: int
    dead: int
    succeeded_kept: int
    limited: int  # ready jobs set aside until their limit has room
    waiting: int  # jobs waiting for the jobs they depend on (issue 16)
    limits: list[LimitBody]  # as this process's client declares them
    counters: dict[str, int]
    throughput_per_minute: float
    failures_per_minute: float
    oldest_queued_age_s: float | None


class QueueList(TypedDict):
    queues: list[QueueSummary]


class JobErrorBody(TypedDict):
    type: str
    message: str
    traceback: str
    note: str  # why it was not retried ("" when it was, or could be)


class JobProgress(TypedDict):
    value: float  # 0..1
    note: str | None


class AttemptBody(TypedDict):
    attempt: int  # 1-based, counted since the job was last (re)queued
    worker: str | None
    started_at: str | None
    finished_at: str | None  # None while it runs
    duration_s: float | None
    outcome: str  # failed (then retried), lost (its worker died), dead, succeeded, aborted, running
    error_type: str
    error_message: str  # the first line only; the latest attempt's whole traceback is in `error`


class JobBody(TypedDict):
    id: str
    queue: str
    uid: str
    task: str
    state: str
    args: list[Any]
    kwargs: dict[str, Any]
    result: Any
    error: JobErrorBody | None
    attempts: int
    max_attempts: int
    priority: int
    recovered: int
    worker: str | None
    request_id: str | None
    traceparent: str | None
    enqueued_at: str | None
    started_at: str | None
    finished_at: str | None
    due_at: str | None
    expires_at: str | None
    progress: JobProgress | None
    workflow: str | None  # the id of the workflow it is a step of (issue 16)
    attempt_history: list[AttemptBody]  # every attempt kept, oldest first, the latest included (issue 17)


class JobPage(TypedDict):
    items: list[JobBody]
    state: str
    order: str
    offset: int
    limit: int
    total: int


class JobFilterBody(TypedDict, total=False):
    """The filters of a listing or a bulk action (issue 17; admin/search.py), those given only."""

    task: str
    q: str
    request_id: str
    error: str
    since: str
    until: str


class SearchedPage(JobPage):
    """A filtered listing: a page of the matches, and how far the search went."""

    filter: JobFilterBody  # as given, times in UTC
    searched: int  # entries of the state's index looked at (at most 5,000 a request)
    next: int | None  # the offset to go on from (the index was not searched to its end), else null


class BulkDone(TypedDict):
    """One batch of a bulk action (issue 17; admin/bulk.py)."""

    action: str
    dry_run: bool  # true: nothing was done; `matched` counts what would have been
    done: int
    skipped: dict[str, int]  # reason (gone, not_dead, cannot_run, not_retryable, ...) -> jobs
    matched: int  # jobs selected, or found by the filter in this batch: done + skipped
    searched: int  # index entries looked at to find them (0 for a selection)
    total: int | None  # entries in the state's index (null for a selection)
    next: int | None  # the cursor of the next batch; null: nothing left


class JobActionDone(TypedDict):
    id: str
    action: str


class Requeued(TypedDict):
    requeued: int


class Purged(TypedDict):
    deleted: int


class PauseState(TypedDict):
    queue: str
    paused: bool


class Enqueued(TypedDict):
    id: str
    queue: str
    task: str
    created: bool  # False: the task's unique key is held by this existing job


class ScheduleBody(TypedDict):
    id: str
    queue: str
    task: str
    cron: str | None
    every_s: float | None
    tz: str | None
    catch_up: str | None
    start: str | None
    end: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    next_run: str | None  # None while paused, once ended, or when its stored definition is damaged
    last_run: str | None  # the time of the tick (or run now) that last wrote a job
    last_job: str | None  # that job's id
    paused: bool
    origin: str  # "code": declared in the app's code, upserted by workers; "api": made at run time


class ScheduleList(TypedDict):
    schedules: list[ScheduleBody]


class ScheduleChanged(TypedDict):
    schedule: ScheduleBody
    change: str  # created, updated, unchanged, paused, resumed, deleted


class ScheduleRun(TypedDict):
    schedule: str
    job: str  # the id of the job just enqueued


class RunningJobBody(TypedDict):
    id: str
    task: str
    started_at: str | None


class WorkerBody(TypedDict):
    id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    active: int
    jobs: list[RunningJobBody]
    processed: int
    started_at: str
    last_seen: str


class HealthProblemBody(TypedDict):
    name: str  # what the public health routes say
    check: str
    queue: str | None
    detail: str


class QueueHealthBody(TypedDict):
    queue: str
    workers: int
    queued: int
    oldest_queued_age_s: float | None
    desired_workers: int  # core/autoscale.py, draining the backlog within its default 60 s


class HealthReportBody(TypedDict):
    status: str  # "ok" or "failing"
    failing: list[str]
    problems: list[HealthProblemBody]
    redis_ok: bool
    redis_latency_ms: float | None
    maxmemory_policy: str | None
    topology: str | None
    unreachable_nodes: list[str]
    queues: list[QueueHealthBody]
    workers: list[WorkerBody]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _limit_body(limit: Limit | QueueLimit, applies_to: list[str]) -> LimitBody:
    rate = limit.rate_limit if isinstance(limit, QueueLimit) else limit.rate
    return {
        "name": limit.name if isinstance(limit, Limit) else "queue",
        "applies_to": applies_to,
        "rate_limit": None if rate is None else f"{rate.count}/{rate.per:g}s",
        "burst": 1 if rate is None else rate.burst,
        "max_concurrency": limit.max_concurrency,
        "per_key": isinstance(limit, Limit) and limit.key is not None,
        "shared": isinstance(limit, Limit) and limit.shared,
    }


def limit_bodies(rq: RedisQ, queue: str) -> list[LimitBody]:
    """The limits on `queue`'s jobs that this client declares: the queue's own, then each task's."""
    out: list[LimitBody] = []
    own = rq.queue_limits.get(queue)
    if own is not None:
        out.append(_limit_body(own, ["*"]))
    by_name: dict[str, tuple[Limit, list[str]]] = {}
    for task in rq.tasks.values():
        if task.queue == queue:
            for limit in task.options.limits:
                by_name.setdefault(limit.name, (limit, []))[1].append(task.name)
    out += [_limit_body(limit, sorted(tasks)) for limit, tasks in by_name.values()]
    return out


def queue_summary(stats: QueueStats, limits: list[LimitBody] | None = None) -> QueueSummary:
    return {
        "queue": stats.queue,
        "paused": stats.paused,
        "queued": stats.queued,
        "scheduled": stats.scheduled,
        "active": stats.active,
        "dead": stats.dead,
        "succeeded_kept": stats.succeeded_kept,
        "limited": stats.limited,
        "waiting": stats.waiting,
        "limits": limits or [],
        "counters": dict(stats.counters),
        "throughput_per_minute": stats.throughput_per_minute,
        "failures_per_minute": stats.failures_per_minute,
        "oldest_queued_age_s": stats.oldest_queued_age_s,
    }


def job_body(info: JobInfo) -> JobBody:
    error = info.error
    return {
        "id": info.id,
        "queue": info.queue,
        "uid": info.id.rpartition(ID_SEPARATOR)[2],
        "task": info.task,
        "state": info.state.value,
        "args": info.args,
        "kwargs": info.kwargs,
        "result": info.result,
        "error": {
            "type": error.type,
            "message": error.message,
            "traceback": error.traceback,
            "note": error.note,
        }
        if error
        else None,
        "attempts": info.attempts,
        "max_attempts": info.max_attempts,
        "priority": info.priority,
        "recovered": info.recovered,
        "worker": info.worker,
        "request_id": info.meta.get("request_id"),
        "traceparent": info.meta.get("traceparent"),
        "enqueued_at": _iso(info.enqueued_at),
        "started_at": _iso(info.started_at),
        "finished_at": _iso(info.finished_at),
        "due_at": _iso(info.due_at),
        "expires_at": _iso(info.expires_at),
        "progress": cast(JobProgress, info.progress) if info.progress else None,
        "workflow": info.meta.get("workflow"),
        "attempt_history": [attempt_body(a) for a in info.attempt_log()],
    }


def attempt_body(attempt: AttemptRecord) -> AttemptBody:
    start, end = attempt.started_at, attempt.finished_at
    return {
        "attempt": attempt.attempt,
        "worker": attempt.worker,
        "started_at": _iso(start),
        "finished_at": _iso(end),
        "duration_s": round((end - start).total_seconds(), 3) if start and end else None,
        "outcome": attempt.outcome.value,
        "error_type": attempt.error_type,
        "error_message": attempt.error_message,
    }


def _ms_iso(ms: int | None) -> str | None:
    return None if ms is None else epoch_iso(ms / 1000)


def schedule_body(info: ScheduleInfo) -> ScheduleBody:
    t = info.timing
    return {
        "id": info.id,
        "queue": info.queue,
        "task": info.task,
        "cron": t.cron if t else None,
        "every_s": t.every_ms / 1000 if t and t.every_ms is not None else None,
        "tz": t.tz if t else None,
        "catch_up": t.catch_up if t else None,
        "start": _ms_iso(t.start_ms) if t else None,
        "end": _ms_iso(t.end_ms) if t else None,
        "args": info.args,
        "kwargs": info.kwargs,
        "next_run": None if info.paused or t is None else _ms_iso(info.next_ms),
        "last_run": _ms_iso(info.last_run_ms),
        "last_job": make_job_id(info.queue, info.last_job_uid) if info.last_job_uid else None,
        "paused": info.paused,
        "origin": info.origin,
    }


def epoch_iso(seconds: float) -> str:
    """ISO-8601 UTC with milliseconds, as every time in the API is written."""
    return (
        datetime.fromtimestamp(seconds, tz=timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _maybe_iso(seconds: float | None) -> str | None:
    return None if seconds is None else epoch_iso(seconds)


def worker_body(info: WorkerInfo) -> WorkerBody:
    return {
        "id": info.id,
        "host": info.host,
        "pid": info.pid,
        "queues": list(info.queues),
        "concurrency": info.concurrency,
        "active": info.active,
        "jobs": [{"id": j.id, "task": j.task, "started_at": _maybe_iso(j.started_at)} for j in info.jobs],
        "processed": info.processed,
        "started_at": epoch_iso(info.started_at),
        "last_seen": epoch_iso(info.last_seen),
    }


def health_body(report: HealthReport) -> HealthReportBody:
    return {
        "status": "ok" if report.ok else "failing",
        "failing": report.failing,
        "problems": [
            {"name": p.name, "check": p.check, "queue": p.queue, "detail": p.detail} for p in report.problems
        ],
        "redis_ok": report.redis_ok,
        "redis_latency_ms": report.redis_latency_ms,
        "maxmemory_policy": report.maxmemory_policy,
        "topology": report.topology,
        "unreachable_nodes": report.unreachable_nodes,
        "queues": [
            {
                "queue": q.queue,
                "workers": q.workers,
                "queued": q.queued,
                "oldest_queued_age_s": q.oldest_queued_age_s,
                "desired_workers": q.desired_workers,
            }
            for q in report.queues
        ],
        "workers": [worker_body(w) for w in report.workers],
    }
