"""How many workers a queue (or a worker tier serving several queues) wants: a pure function of numbers.

Little's law: the jobs running at once (L) are the rate they come at (lambda) times how long each runs (W).
So a queue needs `lambda * W` busy slots to keep up, plus enough to clear its backlog within a target
time: `backlog / drain_s` more jobs per second, each holding a slot for W. Divided by the slots of one
worker (its concurrency, from the heartbeats), rounded up:

    W             = active / completed_per_s            (Little's law on the running set)
    busy_slots    = max(arrival_per_s, completed_per_s) * W
    drain_slots   = backlog / drain_s * W
    desired       = ceil((busy_slots + drain_slots) / concurrency)

Worked example: 120 ready jobs, 8 running, 240 finished in the last minute (4/s), workers of
concurrency 10, drain within 60 s: W = 8 / 4 = 2 s, busy = 4 * 2 = 8 slots, drain = 120 / 60 * 2 = 4
slots, desired = ceil(12 / 10) = 2 workers.

Without an arrival rate, the completion rate stands in for it (then busy_slots is just `active`): when
the workers keep up the two are equal; when they do not, the backlog grows and the drain term asks for
more, so the estimate catches up within one polling interval of an autoscaler. When no job finished in
the window or none runs now (no worker alive), W is unknown and `assumed_run_s` stands in for it; jobs
that run but none of which finished in the window hold their slots (busy_slots = active).

Floors: at least 1 worker while anything waits for one (ready, running, scheduled for later or parked
behind a rate limit: a worker promotes due scheduled jobs, so none may be stranded at zero); 0 when the
queue is idle, which lets KEDA scale the tier to zero. A paused queue's ready jobs count for nothing (no
worker may take them) until it is resumed.

Nothing here reads Redis: `RedisQ.scaling()` gathers the numbers, the health report, the admin API's
`/{queue}/backlog` route and the dashboard show the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .config import WorkerSettings
from .stats import QueueStats, WorkerInfo

DEFAULT_DRAIN_S = 60.0  # clear a backlog within a minute
DEFAULT_CONCURRENCY = WorkerSettings().concurrency  # what a worker starts with when none is alive to say
DEFAULT_ASSUMED_RUN_S = 1.0  # a job's run time while no job finished in the last minute
_EPSILON = 1e-9  # 20 slots of 10 are 2 workers, not 3 after a float's last bit


@dataclass(frozen=True)
class ScalingInputs:
    """What the estimate is made of, all explicit (a test passes numbers, `inputs_of` reads the stats)."""

    backlog: int  # ready jobs waiting for a slot (not those of a paused queue)
    active: int  # jobs running now
    completed_per_s: float  # attempts finished per second, over the last minute
    concurrency: float  # slots of one worker
    waiting: int = 0  # jobs that need a worker some time, not more of them (scheduled, parked by limits)
    arrival_per_s: float | None = None  # jobs arriving per second, when known
    drain_s: float = DEFAULT_DRAIN_S
    assumed_run_s: float = DEFAULT_ASSUMED_RUN_S

    def __post_init__(self) -> None:
        if min(self.backlog, self.active, self.waiting, self.completed_per_s) < 0:
            raise ValueError("job counts and rates cannot be negative")
        if not self.concurrency > 0 or not self.drain_s > 0 or not self.assumed_run_s > 0:
            raise ValueError("concurrency, drain_s and assumed_run_s must be positive")


@dataclass(frozen=True)
class Scaling:
    """The estimate and how it was reached."""

    desired_workers: int
    busy_slots: float  # to keep up with the jobs coming in
    drain_slots: float  # more, to clear the backlog within drain_s
    mean_run_s: float | None  # W from Little's law; None when no job finished in the window or none runs
    concurrency: float
    inputs: ScalingInputs

    @property
    def slots(self) -> float:
        return self.busy_slots + self.drain_slots


def estimate(inputs: ScalingInputs) -> Scaling:
    """Desired workers for one queue, from its numbers alone."""
    done = inputs.completed_per_s
    # W is measured only when both are: with nothing running (no worker alive, say) it is unknown, not 0.
    mean_run_s = inputs.active / done if done > 0 and inputs.active > 0 else None
    run_s = mean_run_s if mean_run_s is not None else inputs.assumed_run_s
    rate = max(done, inputs.arrival_per_s or 0.0)
    # No finished job in the window but jobs running (longer than the window): they all hold their slots.
    busy = rate * run_s if mean_run_s is not None else float(inputs.active)
    drain = inputs.backlog / inputs.drain_s * run_s
    workers = _workers(busy + drain, inputs.concurrency)
    if inputs.backlog or inputs.active or inputs.waiting:
        workers = max(workers, 1)
    return Scaling(workers, busy, drain, mean_run_s, inputs.concurrency, inputs)


def tier_workers(queues: Sequence[Scaling], concurrency: float) -> int:
    """Desired workers of one tier serving all these queues: their slots add up, then are shared out
    (an autoscaler that takes the largest of several per-queue figures would undercount)."""
    workers = _workers(sum(q.slots for q in queues), concurrency)
    needed = any(q.desired_workers for q in queues)
    return max(workers, 1) if needed else workers


def _workers(slots: float, concurrency: float) -> int:
    return max(0, math.ceil(slots / concurrency - _EPSILON))


def concurrency_for(queue: str, workers: Sequence[WorkerInfo], default: float = DEFAULT_CONCURRENCY) -> float:
    """The slots a worker of this queue has, on average over the live ones that serve it (a per-queue cap,
    `--queues emails:5`, counts when it is lower); `default` when none is alive."""
    slots = [
        min(w.concurrency, w.queue_concurrency.get(queue, w.concurrency))
        for w in workers
        if queue in w.queues
    ]
    return sum(slots) / len(slots) if slots else default


def inputs_of(
    stats: QueueStats,
    workers: Sequence[WorkerInfo],
    *,
    drain_s: float = DEFAULT_DRAIN_S,
    default_concurrency: float = DEFAULT_CONCURRENCY,
    assumed_run_s: float = DEFAULT_ASSUMED_RUN_S,
) -> ScalingInputs:
    """A queue's inputs from its stats and the live workers' heartbeats."""
    return ScalingInputs(
        backlog=0 if stats.paused else stats.queued,
        active=stats.active,
        completed_per_s=stats.throughput_per_minute / 60,
        concurrency=concurrency_for(stats.queue, workers, default_concurrency),
        waiting=stats.scheduled + stats.limited,
        drain_s=drain_s,
        assumed_run_s=assumed_run_s,
    )


def scaling_of(
    stats: QueueStats,
    workers: Sequence[WorkerInfo],
    *,
    drain_s: float = DEFAULT_DRAIN_S,
    default_concurrency: float = DEFAULT_CONCURRENCY,
) -> Scaling:
    return estimate(inputs_of(stats, workers, drain_s=drain_s, default_concurrency=default_concurrency))


@dataclass(frozen=True)
class ScalingReport:
    """`RedisQ.scaling(queues)`: each queue's estimate, and the tier's (one pool of workers for all)."""

    queues: dict[str, Scaling]
    stats: dict[str, QueueStats]
    worker_infos: list[WorkerInfo]  # the live workers serving any of these queues
    workers: int  # live workers serving any of these queues
    concurrency: float  # slots of one of the tier's workers (their mean; the default when none is alive)
    desired_workers: int  # for the tier


def report(
    stats: Sequence[QueueStats],
    workers: Sequence[WorkerInfo],
    *,
    drain_s: float = DEFAULT_DRAIN_S,
    default_concurrency: float = DEFAULT_CONCURRENCY,
) -> ScalingReport:
    names = {s.queue for s in stats}
    serving = [w for w in workers if names.intersection(w.queues)]
    each = {
        s.queue: scaling_of(s, workers, drain_s=drain_s, default_concurrency=default_concurrency)
        for s in stats
    }
    # A tier's worker has its whole concurrency for these queues together.
    tier = sum(w.concurrency for w in serving) / len(serving) if serving else default_concurrency
    desired = tier_workers(list(each.values()), tier)
    return ScalingReport(each, {s.queue: s for s in stats}, serving, len(serving), tier, desired)
