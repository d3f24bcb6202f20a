"""`rq.schedules`: periodic jobs managed at run time (issue 12), async with `_sync` twins.

Declaring them in code is `@rq.task(schedule=...)` or `rq.schedule(...)` (client.py, `declare` below); a
worker upserts the declared ones when it starts. What is here changes schedules in Redis directly
(origin "api"), as the admin API, the CLI and the dashboard do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from . import schedule_ops
from .errors import ConfigurationError, RedisQError, ScheduleNotFound, TaskNotFound
from .jobs import Job
from .keys import QueueKeys
from .operation import Op
from .ops import register_queues
from .schedules import JobTemplate, Origin, Schedule, ScheduleInfo, Timing

if TYPE_CHECKING:
    from .client import RedisQ
    from .task import Task

T = TypeVar("T")
# Aliases: inside `Schedules`, `list` names its method.
ScheduleList = list[ScheduleInfo]
ClaimedList = list[schedule_ops.Claimed]
SyncOutcome = tuple[dict[str, str], list[ScheduleInfo]]


def declare(
    rq: RedisQ,
    task: Task[Any, Any] | str,
    *,
    cron: str | None = None,
    every: timedelta | float | None = None,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    id: str | None = None,
    queue: str | None = None,
    tz: str | None = None,
    start: datetime | int | None = None,
    end: datetime | int | None = None,
    catch_up: str = "last",
    origin: Origin = "code",
) -> tuple[Schedule, JobTemplate]:
    """Check everything now (the timing, the task, its arguments, the encoded job), so that a mistake is
    a ConfigurationError where the schedule is declared, not a dead job at 2 a.m."""
    if isinstance(task, str):
        try:
            task = rq.get_task(task)
        except TaskNotFound as exc:
            raise ConfigurationError(f"cannot schedule {task!r}: {exc}") from None
    timing = Timing.build(cron=cron, every=every, tz=tz, start=start, end=end, catch_up=catch_up)
    kwargs = dict(kwargs or {})
    try:
        task.coerce.check_plain_types(*task.coerce(list(args), dict(kwargs)))
    except Exception as exc:  # binding or converting: TypeError, ValueError, pydantic's errors
        raise ConfigurationError(f"the schedule's arguments do not fit {task.name}: {exc}") from exc
    schedule = Schedule(
        id=id if id is not None else task.name,
        task=task.name,
        queue=queue if queue is not None else task.queue,
        timing=timing,
        args=tuple(args),
        kwargs=kwargs,
        origin=origin,
    )
    try:
        template = schedule_ops.job_template(task, schedule, rq.settings)
    except RedisQError as exc:  # arguments that JSON cannot carry, or over the payload limit
        raise ConfigurationError(f"schedule {schedule.id}: {exc}") from exc
    return schedule, template


def task_timing(schedule: str | timedelta | None, tz: str | None) -> dict[str, Any]:
    """The `rq.schedule` arguments of a task decorator's `schedule=`/`tz=` (empty: no schedule)."""
    if schedule is None:
        if tz is not None:
            raise ConfigurationError("tz= is the time zone of a schedule=; give both")
        return {}
    return {"cron": schedule, "tz": tz} if isinstance(schedule, str) else {"every": schedule, "tz": tz}


def remember(
    declared: dict[str, tuple[Schedule, JobTemplate]], schedule: Schedule, template: JobTemplate
) -> Schedule:
    known = declared.get(schedule.id)
    if known is not None and known[0] != schedule:
        raise ConfigurationError(f"a different schedule is already declared as {schedule.id!r}")
    declared[schedule.id] = (schedule, template)
    return schedule


class Schedules:
    """Every method takes the schedule's id; `queue` only if the same id exists on several queues."""

    def __init__(self, rq: RedisQ) -> None:
        self.rq = rq

    def _at(self, schedule_id: str, queue: str | None, op: Callable[[QueueKeys], Op[T]]) -> Op[T]:
        k = yield from schedule_ops.find_queue(
            self.rq.queue_keys, self.rq.settings.prefix, schedule_id, queue
        )
        return (yield from op(k))

    # ---- reading ----------------------------------------------------------------------------------

    def _list_op(self, queues: Sequence[str] | None) -> Op[ScheduleList]:
        return schedule_ops.list_schedules(self.rq.queue_keys, self.rq.settings.prefix, queues)

    async def list(self, queues: Sequence[str] | None = None) -> ScheduleList:
        """Every schedule of the queues (default: every known queue): definition, next and last run."""
        return await self.rq.backend().run(self._list_op(queues))

    def list_sync(self, queues: Sequence[str] | None = None) -> ScheduleList:
        return self.rq.backend_sync().run(self._list_op(queues))

    def _get_op(self, schedule_id: str, queue: str | None) -> Op[ScheduleInfo]:
        def read(k: QueueKeys) -> Op[ScheduleInfo]:
            found = yield from schedule_ops.read(k, schedule_id)
            if found is None:
                raise ScheduleNotFound(f"no schedule {schedule_id!r}")
            return found

        return self._at(schedule_id, queue, read)

    async def get(self, schedule_id: str, queue: str | None = None) -> ScheduleInfo:
        return await self.rq.backend().run(self._get_op(schedule_id, queue))

    def get_sync(self, schedule_id: str, queue: str | None = None) -> ScheduleInfo:
        return self.rq.backend_sync().run(self._get_op(schedule_id, queue))

    # ---- changing ---------------------------------------------------------------------------------

    def _upsert_op(self, schedule: Schedule, template: JobTemplate, now_ms: int | None) -> Op[str]:
        yield from register_queues(self.rq.queue_keys, self.rq.settings.prefix, [schedule.queue])
        now = self.rq.now_ms() if now_ms is None else now_ms
        k = self.rq.queue_keys(schedule.queue)
        return (yield from schedule_ops.put(k, schedule, template, now, "api"))

    async def upsert(
        self, task: Task[Any, Any] | str, *, now_ms: int | None = None, **definition: Any
    ) -> str:
        """Create or replace a schedule (the arguments of `rq.schedule`); "created", "updated" or
        "unchanged". Its next run is kept when the definition did not change."""
        schedule, template = declare(self.rq, task, origin="api", **definition)
        return await self.rq.backend().run(self._upsert_op(schedule, template, now_ms))

    def upsert_sync(self, task: Task[Any, Any] | str, *, now_ms: int | None = None, **definition: Any) -> str:
        schedule, template = declare(self.rq, task, origin="api", **definition)
        return self.rq.backend_sync().run(self._upsert_op(schedule, template, now_ms))

    def _pause_op(self, schedule_id: str, queue: str | None) -> Op[None]:
        return self._at(schedule_id, queue, lambda k: schedule_ops.pause(k, schedule_id))

    async def pause(self, schedule_id: str, queue: str | None = None) -> None:
        """No tick runs until `resume` (a run now still does)."""
        await self.rq.backend().run(self._pause_op(schedule_id, queue))

    def pause_sync(self, schedule_id: str, queue: str | None = None) -> None:
        self.rq.backend_sync().run(self._pause_op(schedule_id, queue))

    def _resume_op(self, schedule_id: str, queue: str | None, now_ms: int | None) -> Op[None]:
        now = self.rq.now_ms() if now_ms is None else now_ms
        return self._at(schedule_id, queue, lambda k: schedule_ops.resume(k, schedule_id, now))

    async def resume(self, schedule_id: str, queue: str | None = None, *, now_ms: int | None = None) -> None:
        """Runs again from its first tick after now (the paused time is not caught up)."""
        await self.rq.backend().run(self._resume_op(schedule_id, queue, now_ms))

    def resume_sync(self, schedule_id: str, queue: str | None = None, *, now_ms: int | None = None) -> None:
        self.rq.backend_sync().run(self._resume_op(schedule_id, queue, now_ms))

    def _run_now_op(self, schedule_id: str, queue: str | None, now_ms: int | None) -> Op[str]:
        now = self.rq.now_ms() if now_ms is None else now_ms
        ttl = self.rq.settings.result_ttl_s
        return self._at(schedule_id, queue, lambda k: schedule_ops.run_now(k, schedule_id, now, ttl))

    async def run_now(self, schedule_id: str, queue: str | None = None, *, now_ms: int | None = None) -> Job:
        """Enqueue the schedule's job now; its next regular run does not move."""
        return Job(self.rq, await self.rq.backend().run(self._run_now_op(schedule_id, queue, now_ms)))

    def run_now_sync(self, schedule_id: str, queue: str | None = None, *, now_ms: int | None = None) -> Job:
        return Job(self.rq, self.rq.backend_sync().run(self._run_now_op(schedule_id, queue, now_ms)))

    def _delete_op(self, schedule_id: str, queue: str | None) -> Op[None]:
        return self._at(schedule_id, queue, lambda k: schedule_ops.delete(k, schedule_id))

    async def delete(self, schedule_id: str, queue: str | None = None) -> None:
        """A schedule declared in code comes back when a worker starts with that code."""
        await self.rq.backend().run(self._delete_op(schedule_id, queue))

    def delete_sync(self, schedule_id: str, queue: str | None = None) -> None:
        self.rq.backend_sync().run(self._delete_op(schedule_id, queue))

    # ---- ticking (what workers do; public for tests and cron-less deployments) -----------------

    def _claim_op(self, queues: Sequence[str] | None, now_ms: int | None) -> Op[ClaimedList]:
        names = list(queues) if queues is not None else self.rq.queues
        now = self.rq.now_ms() if now_ms is None else now_ms
        claimed, _ = yield from schedule_ops.claim_due(
            self.rq.queue_keys, names, now, self.rq.settings.result_ttl_s
        )
        return claimed

    async def claim_due(
        self, queues: Sequence[str] | None = None, *, now_ms: int | None = None
    ) -> ClaimedList:
        """Enqueue the due ticks of the queues' schedules once (as the workers do, atomically)."""
        return await self.rq.backend().run(self._claim_op(queues, now_ms))

    def claim_due_sync(
        self, queues: Sequence[str] | None = None, *, now_ms: int | None = None
    ) -> ClaimedList:
        return self.rq.backend_sync().run(self._claim_op(queues, now_ms))

    def _sync_op(self, queues: Sequence[str], now_ms: int | None) -> Op[SyncOutcome]:
        now = self.rq.now_ms() if now_ms is None else now_ms
        declared = list(self.rq.declared_schedules.values())
        return schedule_ops.sync_declared(self.rq.queue_keys, self.rq.settings.prefix, declared, queues, now)

    async def sync_declared(
        self, queues: Sequence[str] | None = None, *, now_ms: int | None = None
    ) -> SyncOutcome:
        """What a worker does at start: upsert the declared schedules of its queues, remove the ones
        declared in code before and no longer. Returns ({id: created|updated|unchanged}, removed)."""
        names = list(queues) if queues is not None else self.rq.queues
        return await self.rq.backend().run(self._sync_op(names, now_ms))

    def sync_declared_sync(
        self, queues: Sequence[str] | None = None, *, now_ms: int | None = None
    ) -> SyncOutcome:
        names = list(queues) if queues is not None else self.rq.queues
        return self.rq.backend_sync().run(self._sync_op(names, now_ms))
