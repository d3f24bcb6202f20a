"""The admin API's autoscaling figures, free of any web framework:

    GET M/{queue}/backlog[?drain_s=60]                  one queue
    GET M/_backlog[?queues=emails,images&drain_s=60]    a worker tier serving these queues (default: all)

A small JSON for an autoscaler (KEDA's `metrics-api` scaler reads one field of it, `desired_workers`, by
its `valueLocation`; README "Autoscaling (KEDA)"), READ access like every other read route:

    {"queue": "emails", "backlog": 120, "scheduled": 0, "active": 8, "limited": 0, "paused": false,
     "oldest_age_s": 4.2, "throughput_per_minute": 240.0, "workers": 1, "concurrency": 10.0,
     "mean_run_s": 2.0, "drain_s": 60.0, "busy_slots": 8.0, "drain_slots": 4.0, "desired_workers": 2}

The tier's answer is `{"queues": [one such object per queue], "workers", "concurrency", "drain_s",
"desired_workers"}`: its `desired_workers` adds the queues' slots up before sharing them out, where an
autoscaler taking the largest of several per-queue triggers (KEDA does) would undercount.

The figures are `redisq.core.autoscale`'s; an unknown queue is a 404 as on the other queue routes, a
`drain_s` out of range a 422.
"""

from __future__ import annotations

import math
from typing import TypedDict

from redisq.core.autoscale import DEFAULT_DRAIN_S, ScalingReport
from redisq.core.client import RedisQ

from .access import Grant, everything
from .actions import queue_names, require_queue
from .errors import InvalidParameter, QueueNotFound

BACKLOG_PARAMS = ("drain_s",)
TIER_PARAMS = ("queues", "drain_s")
MAX_DRAIN_S = 86400.0  # a day: past it, a backlog is not something to scale for


class BacklogBody(TypedDict):
    queue: str
    backlog: int  # ready jobs waiting for a worker (paused or not)
    scheduled: int  # waiting for a time (delays, retries)
    active: int
    limited: int  # ready, held back by a rate or concurrency limit
    paused: bool
    oldest_age_s: float | None  # how long the job at the head of the queue has waited
    throughput_per_minute: float  # attempts finished over the last minute
    workers: int  # live workers serving the queue
    concurrency: float  # slots per worker (their mean; the default when none is alive)
    mean_run_s: float | None  # Little's law: active / completion rate; None when unknown
    drain_s: float  # the backlog is to be cleared within this
    busy_slots: float
    drain_slots: float
    desired_workers: int


class TierBacklogBody(TypedDict):
    queues: list[BacklogBody]
    workers: int  # live workers serving any of these queues
    concurrency: float  # slots of one of their workers
    drain_s: float
    desired_workers: int  # for one pool of workers serving all of these queues


def drain_param(raw: str | float | None) -> float:
    """`?drain_s=`: seconds within which the backlog is to be cleared, 1 to a day."""
    if raw is None:
        return DEFAULT_DRAIN_S
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameter(f"drain_s must be a number of seconds, got {raw!r}", field="drain_s") from None
    if not math.isfinite(value) or not 1 <= value <= MAX_DRAIN_S:
        raise InvalidParameter(
            f"drain_s must be from 1 to {MAX_DRAIN_S:g} seconds, got {raw!r}", field="drain_s"
        )
    return value


def _queue_body(report: ScalingReport, queue: str, drain_s: float) -> BacklogBody:
    s, got = report.stats[queue], report.queues[queue]
    return {
        "queue": queue,
        "backlog": s.queued,
        "scheduled": s.scheduled,
        "active": s.active,
        "limited": s.limited,
        "paused": s.paused,
        "oldest_age_s": s.oldest_queued_age_s,
        "throughput_per_minute": s.throughput_per_minute,
        "workers": sum(1 for w in report.worker_infos if queue in w.queues),
        "concurrency": got.concurrency,
        "mean_run_s": got.mean_run_s,
        "drain_s": drain_s,
        "busy_slots": got.busy_slots,
        "drain_slots": got.drain_slots,
        "desired_workers": got.desired_workers,
    }


async def backlog(rq: RedisQ, queue: str, drain_s: str | float | None = None) -> BacklogBody:
    drain = drain_param(drain_s)
    await require_queue(rq, queue)
    return _queue_body(await rq.scaling(queue, drain_s=drain), queue, drain)


async def tier_backlog(
    rq: RedisQ, queues: str | None = None, drain_s: str | float | None = None, grant: Grant | None = None
) -> TierBacklogBody:
    """`queues`: comma-separated names; every queue (known to Redis or used by a task) when absent, of
    those the request may see (access per queue, scope.py: a hidden queue is not found)."""
    drain = drain_param(drain_s)
    visible = grant.visible if grant else everything
    known = set(await queue_names(rq, visible))
    if queues is None:
        names = sorted(known)
    else:
        names = list(dict.fromkeys(q.strip() for q in queues.split(",")))
        unknown = [q for q in names if q not in known]
        if unknown:
            raise QueueNotFound(f"no queue {unknown[0]!r}")
    report = await rq.scaling(names, drain_s=drain)
    return {
        "queues": [_queue_body(report, name, drain) for name in names],
        "workers": report.workers,
        "concurrency": report.concurrency,
        "drain_s": drain,
        "desired_workers": report.desired_workers,
    }
