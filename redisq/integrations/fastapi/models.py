"""Pydantic models of the `/queues` admin API, so that FastAPI's OpenAPI schema types every route.

They describe the TypedDicts that `redisq.admin.actions` returns, field for field; the
handlers there stay the only place that builds or checks these payloads.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from redisq.admin.actions import MAX_DELAY_S
from redisq.admin.schedules import MAX_EVERY_S
from redisq.core.job import JobState
from redisq.core.task import MAX_PRIORITY

# Times are sent as the handlers write them (RFC 3339, UTC, milliseconds), not re-formatted by pydantic,
# so the Starlette app and the FastAPI router answer with the same bytes.
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class LimitModel(BaseModel):
    name: str
    applies_to: list[str] = Field(description='["*"]: the whole queue; else the tasks counted against it')
    rate_limit: str | None = Field(description="starts per period, e.g. 50/1s")
    burst: int
    max_concurrency: int | None = Field(description="running at once, across every worker")
    per_key: bool = Field(description="each value of the limit's key has its own allowance")
    shared: bool = Field(description="counted across every queue that uses it")


class QueueStatsModel(BaseModel):
    queue: str
    paused: bool = Field(description="workers fetch nothing from it until it is resumed")
    queued: int
    scheduled: int
    active: int
    dead: int = Field(description="dead letters kept now")
    succeeded_kept: int = Field(description="finished jobs still listed (that index is trimmed)")
    limited: int = Field(description="ready jobs set aside until their rate or concurrency limit has room")
    waiting: int = Field(description="jobs waiting for the jobs they depend on to end (workflows)")
    limits: list[LimitModel] = Field(description="the limits on its jobs, as this app declares them")
    counters: dict[str, int] = Field(
        description="totals since the queue began: enqueued, succeeded, failed, ..."
    )
    throughput_per_minute: float
    failures_per_minute: float
    oldest_queued_age_s: float | None


class QueueListModel(BaseModel):
    queues: list[QueueStatsModel]


class JobErrorModel(BaseModel):
    type: str
    message: str
    traceback: str
    note: str = Field(description="why the job was not retried (its retry_on or give_up_on), else empty")


class JobProgressModel(BaseModel):
    value: float = Field(ge=0, le=1)
    note: str | None


class AttemptModel(BaseModel):
    attempt: int = Field(description="1-based, counted since the job was last (re)queued")
    worker: str | None
    started_at: Timestamp | None
    finished_at: Timestamp | None = Field(description="null while it runs")
    duration_s: float | None
    outcome: Literal["failed", "lost", "dead", "succeeded", "aborted", "running"] = Field(
        description="failed: it raised and the job was retried; lost: its worker stopped renewing its lease"
    )
    error_type: str
    error_message: str = Field(description="the first line of the message; the traceback is in `error`")


class JobModel(BaseModel):
    id: str = Field(description="'<queue>:<uid>'")
    queue: str
    uid: str
    task: str
    state: JobState
    args: list[Any]
    kwargs: dict[str, Any]
    result: Any = Field(description="the return value, once the job succeeded")
    error: JobErrorModel | None = Field(description="the last failure, with its traceback")
    attempts: int
    max_attempts: int
    priority: int
    recovered: int = Field(description="deliveries taken back from a worker whose lease lapsed")
    worker: str | None
    request_id: str | None = Field(description="the id of the HTTP request that enqueued the job")
    traceparent: str | None
    enqueued_at: Timestamp | None
    started_at: Timestamp | None
    finished_at: Timestamp | None
    due_at: Timestamp | None
    expires_at: Timestamp | None
    progress: JobProgressModel | None = Field(description="as the running task last reported it")
    workflow: str | None = Field(description="the id of the workflow it is a step of (GET /_workflows/{id})")
    attempt_history: list[AttemptModel] = Field(
        description="every attempt kept (the last 25 before the latest), oldest first, the latest included"
    )


class JobFilterModel(BaseModel):
    """A listing's or a bulk action's filters (issue 17): those given, times as ISO 8601 in UTC."""

    task: str | None = None
    q: str | None = None
    request_id: str | None = None
    error: str | None = None
    since: Timestamp | None = None
    until: Timestamp | None = None


class JobPageModel(BaseModel):
    """A page of jobs; a filtered one (issue 17) also says how far its bounded search went."""

    items: list[JobModel]
    state: JobState
    order: Literal["newest", "oldest"]
    offset: int
    limit: int
    total: int = Field(description="jobs in this state now (in the state's index)")
    filter: JobFilterModel | None = Field(default=None, description="filtered pages only: the filters")
    searched: int | None = Field(
        default=None, description="filtered pages only: index entries looked at (5,000 a request at most)"
    )
    next: int | None = Field(
        default=None,
        description="filtered pages only: the offset to go on from; null: the index was searched to its end",
    )


class BulkFilterModel(BaseModel):
    """The jobs of one state that a bulk action walks (issue 17); the other fields filter as a listing's."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["queued", "scheduled", "succeeded", "dead", "waiting"]
    task: str | None = None
    q: str | None = None
    request_id: str | None = None
    error: str | None = None
    since: str | float | None = Field(default=None, description="ISO 8601 with an offset, or epoch seconds")
    until: str | float | None = Field(default=None, description="ISO 8601 with an offset, or epoch seconds")


class BulkModel(BaseModel):
    """One batch of a bulk action: on `ids`, or on the jobs `filter` matches from `cursor` on."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["retry", "requeue", "cancel", "delete"]
    ids: list[str] | None = Field(default=None, description="job ids (or uids) of this queue, 500 at most")
    filter: BulkFilterModel | None = None
    cursor: int | None = Field(default=None, ge=0, strict=True, description="the previous answer's `next`")
    dry_run: bool = Field(default=False, strict=True, description="with a filter: count, act on none")


class BulkDoneModel(BaseModel):
    action: Literal["retry", "requeue", "cancel", "delete"]
    dry_run: bool
    done: int
    skipped: dict[str, int] = Field(
        description="jobs their state did not allow it, by reason: gone, not_dead, cannot_run, "
        "not_retryable, not_cancellable, running"
    )
    matched: int = Field(description="the jobs of this batch: done + skipped (or, in a dry run, would be)")
    searched: int = Field(description="index entries looked at to find them (0 for ids)")
    total: int | None = Field(description="entries in the state's index (null for ids)")
    next: int | None = Field(description="the cursor of the next batch; null: nothing is left")


class JobActionModel(BaseModel):
    id: str
    action: Literal["retried", "cancelled", "promoted", "deleted", "aborted"]


class RequeuedModel(BaseModel):
    requeued: int


class PurgedModel(BaseModel):
    deleted: int


class PauseStateModel(BaseModel):
    queue: str
    paused: bool


class EnqueueModel(BaseModel):
    """A registered task by name, with JSON arguments that must fit its signature."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1)
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    delay_s: float | None = Field(default=None, ge=0, le=MAX_DELAY_S, allow_inf_nan=False, strict=True)
    priority: int | None = Field(default=None, ge=-MAX_PRIORITY, le=MAX_PRIORITY, strict=True)


class RetryModel(BaseModel):
    """A dead job's new arguments: they must fit its task's signature, as an enqueue's must."""

    model_config = ConfigDict(extra="forbid")

    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)


class EnqueuedModel(BaseModel):
    id: str
    queue: str
    task: str
    created: bool = Field(description="false: the task's unique key is held by this existing job (200)")


class ErrorModel(BaseModel):
    """Every error: `detail` for a person, `error` (a stable code) for a program, maybe more fields."""

    model_config = ConfigDict(extra="allow")

    detail: str
    error: str


class RunningJobModel(BaseModel):
    id: str
    task: str
    started_at: Timestamp | None


class WorkerModel(BaseModel):
    id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    active: int
    jobs: list[RunningJobModel]
    processed: int
    started_at: Timestamp | None
    last_seen: Timestamp | None


class HealthProblemModel(BaseModel):
    name: str = Field(description="what the public health routes say of it")
    check: str
    queue: str | None
    detail: str


class QueueHealthModel(BaseModel):
    queue: str
    workers: int = Field(description="live workers serving it")
    queued: int
    oldest_queued_age_s: float | None
    desired_workers: int = Field(description="from backlog, throughput and concurrency (Little's law)")


class HealthReportModel(BaseModel):
    status: Literal["ok", "failing"]
    failing: list[str]
    problems: list[HealthProblemModel]
    redis_ok: bool
    redis_latency_ms: float | None
    maxmemory_policy: str | None
    topology: str | None
    unreachable_nodes: list[str]
    queues: list[QueueHealthModel]
    workers: list[WorkerModel]


class ScheduleModel(BaseModel):
    """A periodic job (issue 12) with its next and last run."""

    id: str
    queue: str
    task: str
    cron: str | None
    every_s: float | None
    tz: str | None
    catch_up: Literal["skip", "last"] | None
    start: Timestamp | None
    end: Timestamp | None
    args: list[Any]
    kwargs: dict[str, Any]
    next_run: Timestamp | None = Field(description="null while paused or once ended")
    last_run: Timestamp | None
    last_job: str | None = Field(description="the id of the job its last run enqueued")
    paused: bool
    origin: Literal["code", "api"] = Field(description="declared in code (workers upsert it) or at run time")


class ScheduleListModel(BaseModel):
    schedules: list[ScheduleModel]


class ScheduleChangedModel(BaseModel):
    schedule: ScheduleModel
    change: Literal["created", "updated", "unchanged", "paused", "resumed", "deleted"]


class ScheduleRunModel(BaseModel):
    schedule: str
    job: str = Field(description="the id of the job just enqueued")


class SchedulePutModel(BaseModel):
    """A schedule of a registered task: exactly one of cron and every_s; arguments that fit the task."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1)
    cron: str | None = None
    every_s: float | None = Field(default=None, ge=1, le=MAX_EVERY_S, allow_inf_nan=False, strict=True)
    tz: str | None = None
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    queue: str | None = None
    start: str | None = Field(default=None, description="ISO 8601; no tick before it")
    end: str | None = Field(default=None, description="ISO 8601; no tick after it")
    catch_up: Literal["skip", "last"] = "last"


class BacklogModel(BaseModel):
    """`GET /{queue}/backlog`: what an autoscaler reads (KEDA's metrics-api: `desired_workers`)."""

    queue: str
    backlog: int = Field(description="ready jobs waiting for a worker")
    scheduled: int
    active: int
    limited: int = Field(description="ready jobs held back by a rate or concurrency limit")
    paused: bool
    oldest_age_s: float | None = Field(description="how long the job at the head of the queue has waited")
    throughput_per_minute: float
    workers: int = Field(description="live workers serving the queue")
    concurrency: float = Field(description="slots per worker, from their heartbeats (a default when none)")
    mean_run_s: float | None = Field(description="Little's law: active / completion rate; null when unknown")
    drain_s: float = Field(description="the backlog is to be cleared within this")
    busy_slots: float
    drain_slots: float
    desired_workers: int = Field(description="ceil((busy_slots + drain_slots) / concurrency); 0 when idle")


class TierBacklogModel(BaseModel):
    """`GET /_backlog`: one pool of workers serving several queues."""

    queues: list[BacklogModel]
    workers: int = Field(description="live workers serving any of these queues")
    concurrency: float = Field(description="slots of one of their workers")
    drain_s: float
    desired_workers: int = Field(description="the queues' slots added up, then shared out")


class WorkflowDependencyModel(BaseModel):
    job_id: str
    on_failure: Literal["fail", "continue", "ignore", "remove"]


class WorkflowStepModel(BaseModel):
    job_id: str
    queue: str
    task: str
    state: str | None = Field(description="the step's job state; null once its record expired")
    error_type: str | None
    depends_on: list[WorkflowDependencyModel]


class WorkflowModel(BaseModel):
    """A workflow (issue 16): its steps in the order they were written, with their states and edges."""

    id: str
    created_at: Timestamp
    state: Literal["running", "succeeded", "failed"]
    steps: list[WorkflowStepModel]


class SlowEntryModel(BaseModel):
    id: int
    at: Timestamp
    duration_us: int
    command: str = Field(description="its name and first key; its other arguments are left out")


class RedisNodeModel(BaseModel):
    node: str
    error: str | None = Field(description="INFO could not be read (refused, or the node did not answer)")
    version: str | None
    mode: str | None
    role: str | None
    uptime_s: int | None
    used_memory: int | None
    used_memory_peak: int | None
    maxmemory: int | None = Field(description="0: no limit")
    maxmemory_policy: str | None
    evicts: bool = Field(description="its policy may evict keys: an evicted job is a lost job")
    aof_enabled: bool | None
    rdb_last_save_at: Timestamp | None
    rdb_changes_since_last_save: int | None
    rdb_last_bgsave_ok: bool | None
    connected_clients: int | None
    slowlog: list[SlowEntryModel]
    slowlog_error: str | None = Field(description="SLOWLOG refused to this user")


class RedisModel(BaseModel):
    """The Redis page (issue 17): read-only."""

    nodes: list[RedisNodeModel]
    warnings: list[str]
