"""The admin API's metrics over time (issue 17), free of any web framework:

    GET M/_history?range=1h|24h|72h|30d               every queue summed, and each queue's totals
    GET M/{queue}/history?range=...&task=<name>       a queue's points (or one task's), each task's totals

Points carry attempts succeeded and failed, and run-time and queue-wait percentiles (p50, p95, p99, in
ms) computed from the fixed buckets of redisq.core.task_metrics; a range of 24 h or more sums hour records
for the totals. The range defaults to 1h; any other value is a 422.
"""

from __future__ import annotations

from typing import TypedDict

from redisq.core.client import RedisQ
from redisq.core.task_metrics import RANGES, Counts, Point, TaskTotals, percentile

from .access import Grant, everything
from .actions import queue_names, require_queue
from .errors import InvalidParameter
from .payloads import epoch_iso

HISTORY_PARAMS = ("range",)
QUEUE_HISTORY_PARAMS = ("range", "task")
QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


class Percentiles(TypedDict):
    p50: float | None
    p95: float | None
    p99: float | None


class CountsBody(TypedDict):
    succeeded: int
    failed: int
    run_ms: Percentiles
    wait_ms: Percentiles


class PointBody(CountsBody):
    at: str  # the start of the point's window


class TaskTotalsBody(CountsBody):
    task: str


class QueueTotalsBody(CountsBody):
    queue: str


class QueueHistoryBody(TypedDict):
    queue: str
    task: str | None
    range: str
    step_s: int
    points: list[PointBody]
    tasks: list[TaskTotalsBody]


class SystemHistoryBody(TypedDict):
    range: str
    step_s: int
    points: list[PointBody]
    queues: list[QueueTotalsBody]


def _percentiles(buckets: tuple[int, ...]) -> Percentiles:
    values = {name: percentile(buckets, q) for name, q in QUANTILES}
    rounded = {name: None if v is None else round(v, 2) for name, v in values.items()}
    return Percentiles(p50=rounded["p50"], p95=rounded["p95"], p99=rounded["p99"])


def _counts(c: Counts) -> CountsBody:
    return CountsBody(
        succeeded=c.succeeded, failed=c.failed, run_ms=_percentiles(c.run), wait_ms=_percentiles(c.wait)
    )


def _point(p: Point) -> PointBody:
    return PointBody(at=epoch_iso(p.at_ms / 1000), **_counts(p.counts))


def _task(t: TaskTotals) -> TaskTotalsBody:
    return TaskTotalsBody(task=t.task, **_counts(t.counts))


def check_range(value: str | None) -> str:
    if value is None:
        return "1h"
    if value not in RANGES:
        raise InvalidParameter(f"range must be one of {', '.join(RANGES)}, not {value!r}")
    return value


async def queue_history(rq: RedisQ, queue: str, range_: str | None, task: str | None) -> QueueHistoryBody:
    checked = check_range(range_)
    if task is not None and not task:
        raise InvalidParameter("task must be a task's name, not empty")
    await require_queue(rq, queue)
    report = await rq.metrics(queue, checked, task)
    return QueueHistoryBody(
        queue=queue,
        task=task,
        range=report.range,
        step_s=report.step_s,
        points=[_point(p) for p in report.points],
        tasks=[_task(t) for t in report.tasks],
    )


async def system_history(rq: RedisQ, range_: str | None, grant: Grant | None = None) -> SystemHistoryBody:
    """Every queue the request may see (access per queue, scope.py), summed."""
    checked = check_range(range_)
    visible = grant.visible if grant else everything
    report = await rq.system_metrics(await queue_names(rq, visible), checked)
    return SystemHistoryBody(
        range=report.range,
        step_s=report.step_s,
        points=[_point(p) for p in report.points],
        queues=[QueueTotalsBody(queue=t.task, **_counts(t.counts)) for t in report.queues],
    )
