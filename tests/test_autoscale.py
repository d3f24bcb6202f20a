"""desired_workers (core/autoscale.py): the formula on numbers, then `RedisQ.scaling()` and the health
report on a real Redis with real workers."""

from __future__ import annotations

import asyncio
import dataclasses
import math

import pytest

from redisq import RedisQ
from redisq.core.autoscale import (
    DEFAULT_CONCURRENCY,
    ScalingInputs,
    concurrency_for,
    estimate,
    inputs_of,
    report,
    tier_workers,
)
from redisq.core.stats import COUNTERS, QueueStats, WorkerInfo

from .conftest import FAST, running_worker


def stats(queue: str = "q", **values: float | int | bool) -> QueueStats:
    base: dict[str, object] = {
        "queued": 0,
        "scheduled": 0,
        "active": 0,
        "dead": 0,
        "throughput_per_minute": 0.0,
        "failures_per_minute": 0.0,
        "oldest_queued_age_s": None,
    }
    base.update(values)
    return QueueStats(queue=queue, counters=dict.fromkeys(COUNTERS, 0), **base)  # type: ignore[arg-type]


def worker(queues: list[str], concurrency: int, caps: dict[str, int] | None = None) -> WorkerInfo:
    return WorkerInfo("w", "host", 1, queues, concurrency, 0, 0.0, 0.0, queue_concurrency=caps or {})


# ---- the formula ---------------------------------------------------------------------------------------


def test_the_worked_example_of_the_docstring() -> None:
    """120 ready, 8 running, 4 finished/s, concurrency 10, drain in 60 s: W = 2 s, 8 + 4 slots, 2 workers."""
    got = estimate(ScalingInputs(backlog=120, active=8, completed_per_s=4.0, concurrency=10))
    assert got.mean_run_s == 2.0
    assert (got.busy_slots, got.drain_slots) == (8.0, 4.0)
    assert got.desired_workers == 2


def test_busy_slots_follow_littles_law_on_an_arrival_rate() -> None:
    # 50 jobs/s arriving, each 0.5 s (5 running while 10/s finish): 25 busy slots; no backlog.
    got = estimate(ScalingInputs(backlog=0, active=5, completed_per_s=10.0, concurrency=8, arrival_per_s=50))
    assert got.mean_run_s == 0.5
    assert got.busy_slots == 25.0 and got.drain_slots == 0.0
    assert got.desired_workers == math.ceil(25 / 8) == 4
    # An arrival rate below the completion rate changes nothing: the work done is the work there is.
    slower = estimate(
        ScalingInputs(backlog=0, active=5, completed_per_s=10.0, concurrency=8, arrival_per_s=1)
    )
    assert slower.busy_slots == 5.0 and slower.desired_workers == 1


def test_exact_multiples_are_not_rounded_up_by_float_error() -> None:
    # 0.1 * 3 is 0.30000000000000004 in floats: 30 slots of 10 must still be 3 workers.
    got = estimate(ScalingInputs(backlog=0, active=30, completed_per_s=0.1 * 3, concurrency=10))
    assert got.busy_slots == pytest.approx(30) and got.desired_workers == 3


def test_the_drain_target_scales_the_backlog_term() -> None:
    inputs = {"backlog": 6000, "active": 10, "completed_per_s": 10.0, "concurrency": 10}  # W = 1 s
    assert estimate(ScalingInputs(**inputs)).desired_workers == math.ceil((10 + 6000 / 60) / 10) == 11
    assert estimate(ScalingInputs(**inputs, drain_s=600)).desired_workers == math.ceil((10 + 10) / 10) == 2
    assert estimate(ScalingInputs(**inputs, drain_s=6)).desired_workers == math.ceil((10 + 1000) / 10) == 101


def test_an_unknown_run_time_takes_the_assumed_one() -> None:
    # Scaled to zero: nothing runs, nothing finished; 600 waiting, 1 s each assumed, in 60 s: 10 slots.
    cold = estimate(ScalingInputs(backlog=600, active=0, completed_per_s=0.0, concurrency=5))
    assert cold.mean_run_s is None and cold.drain_slots == 10.0 and cold.desired_workers == 2
    assumed = estimate(
        ScalingInputs(backlog=600, active=0, completed_per_s=0.0, concurrency=5, assumed_run_s=3)
    )
    assert assumed.desired_workers == 6
    # Finished jobs but none running (no worker alive now): W cannot be read off an empty running set.
    stale = estimate(ScalingInputs(backlog=600, active=0, completed_per_s=20.0, concurrency=5))
    assert stale.mean_run_s is None and stale.desired_workers == 2


def test_long_jobs_none_finished_hold_their_slots() -> None:
    got = estimate(ScalingInputs(backlog=0, active=25, completed_per_s=0.0, concurrency=10))
    assert got.busy_slots == 25.0 and got.desired_workers == 3


def test_at_least_one_while_anything_waits_and_zero_when_idle() -> None:
    idle = estimate(ScalingInputs(backlog=0, active=0, completed_per_s=0.0, concurrency=10))
    assert idle.desired_workers == 0
    # Finished work in the last minute but nothing left: idle (KEDA's cooldown keeps it from flapping).
    assert (
        estimate(ScalingInputs(backlog=0, active=0, completed_per_s=3.0, concurrency=10)).desired_workers == 0
    )
    # One job, of vanishingly short ones (fewer slots than rounding sees): still a worker.
    one = estimate(
        ScalingInputs(backlog=1, active=0, completed_per_s=0.0, concurrency=10, assumed_run_s=1e-12)
    )
    assert one.slots < 1e-12 and one.desired_workers == 1
    # Scheduled for later or parked behind a limit: somebody must promote or run them.
    later = estimate(ScalingInputs(backlog=0, active=0, completed_per_s=0.0, concurrency=10, waiting=1))
    assert later.desired_workers == 1


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="negative"):
        ScalingInputs(backlog=-1, active=0, completed_per_s=0.0, concurrency=10)
    for bad in (
        {"concurrency": 0},
        {"concurrency": 1, "drain_s": 0},
        {"concurrency": 1, "assumed_run_s": -1},
    ):
        with pytest.raises(ValueError, match="positive"):
            ScalingInputs(backlog=0, active=0, completed_per_s=0.0, **bad)  # type: ignore[arg-type]


def test_inputs_from_stats_and_heartbeats() -> None:
    s = stats(queued=40, scheduled=3, active=6, limited=2, throughput_per_minute=180.0)
    got = inputs_of(s, [worker(["q"], 10, {"q": 4}), worker(["q", "r"], 8), worker(["r"], 50)])
    # (4 + 8) / 2 slots per worker: the per-queue cap counts, a worker of another queue does not.
    assert got == ScalingInputs(backlog=40, active=6, completed_per_s=3.0, concurrency=6.0, waiting=5)
    assert concurrency_for("q", []) == DEFAULT_CONCURRENCY
    # A paused queue's ready jobs wait for a resume, not for workers.
    assert inputs_of(stats(queued=40, paused=True), []).backlog == 0
    assert estimate(inputs_of(stats(queued=40, paused=True), [])).desired_workers == 0


def test_a_tier_adds_its_queues_slots() -> None:
    a = estimate(ScalingInputs(backlog=0, active=6, completed_per_s=6.0, concurrency=10))  # 6 slots: 1
    b = estimate(ScalingInputs(backlog=0, active=7, completed_per_s=7.0, concurrency=10))  # 7 slots: 1
    assert (a.desired_workers, b.desired_workers) == (1, 1)
    assert tier_workers([a, b], 10) == 2  # the largest of the two (1) would be a worker short
    idle = estimate(ScalingInputs(backlog=0, active=0, completed_per_s=0.0, concurrency=10))
    tiny = estimate(
        ScalingInputs(backlog=1, active=0, completed_per_s=0.0, concurrency=10, assumed_run_s=0.01)
    )
    assert tier_workers([idle], 10) == 0 and tier_workers([idle, tiny], 10) == 1
    both = report([stats("a", queued=600), stats("b", active=10)], [worker(["a", "b"], 20)])
    assert both.workers == 1
    assert both.queues["a"].desired_workers == 1 and both.queues["b"].desired_workers == 1
    assert both.desired_workers == math.ceil((600 / 60 * 1.0 + 10) / 20) == 1


# ---- on a real Redis -----------------------------------------------------------------------------------


async def test_scaling_reads_backlog_and_the_live_workers_concurrency(rq: RedisQ, queue: str) -> None:
    release = asyncio.Event()

    @rq.task(name="autoscale.hold")
    async def hold() -> None:
        await release.wait()

    empty = await rq.scaling(queue)
    assert empty.desired_workers == 0 and empty.queues[queue].concurrency == DEFAULT_CONCURRENCY
    for _ in range(9):
        await hold.enqueue()
    cold = (await rq.scaling(queue)).queues[queue]
    # No worker: 9 ready jobs, an assumed 1 s each, within 60 s: one worker (never zero with a backlog).
    assert (cold.inputs.backlog, cold.mean_run_s, cold.desired_workers) == (9, None, 1)
    async with running_worker(rq, dataclasses.replace(FAST, concurrency=3), queues=[queue]):
        await _until(lambda: rq.stats(queue), lambda s: s.active == 3)
        warm = await _until(lambda: rq.scaling(queue, drain_s=1), lambda r: r.workers == 1)
        got = warm.queues[queue]
        assert warm.workers == 1 and got.concurrency == 3
        assert (got.inputs.backlog, got.inputs.active) == (6, 3)
        # Nothing finished yet: the 3 running hold their slots, the 6 waiting an assumed 1 s each in 1 s.
        assert got.busy_slots == 3 and got.drain_slots == 6.0 and got.desired_workers == 3
        report = await rq.health([queue])
        # The health report drains within the default 60 s: 3 + 6 / 60 slots of 3 are 2 workers.
        assert [(q.queue, q.desired_workers) for q in report.queues] == [(queue, 2)]
        release.set()
        await _until(lambda: rq.stats(queue), lambda s: s.queued + s.active == 0)
        done = (await rq.scaling(queue)).queues[queue]
        assert done.inputs.completed_per_s == pytest.approx(9 / 60, rel=0.05) and done.desired_workers == 0
    assert rq.scaling_sync([queue]).desired_workers == 0


async def _until(read, check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not check(value := await read()):
        assert asyncio.get_running_loop().time() < deadline, value
        await asyncio.sleep(0.02)
    return value
