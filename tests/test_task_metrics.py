"""Metrics per queue and per task over time (issue 17): every attempt that ends is counted in the finish
script's batch, with its run time and queue wait in fixed buckets, per minute (72 h) and per hour (30 d);
any range's totals and percentiles come from the records; the memory per record is bounded."""

from __future__ import annotations

import asyncio

import pytest

from redisq import Backoff, RedisQ
from redisq.core import task_metrics
from redisq.core.task_metrics import BOUNDS_MS, Counts, percentile
from redisq.testing import advance, drain

from .conftest import FAST, running_worker


def totals(report: task_metrics.QueueMetrics) -> dict[str, tuple[int, int]]:
    return {t.task: (t.counts.succeeded, t.counts.failed) for t in report.tasks}


async def test_each_attempt_is_counted_per_task_with_its_run_time_and_queue_wait(
    rq: RedisQ, queue: str
) -> None:
    @rq.task(name="m.fast")
    async def fast() -> None:
        await asyncio.sleep(0.03)

    @rq.task(name="m.flaky", retries=1, backoff=Backoff("fixed", 0.0))
    async def flaky() -> None:
        raise RuntimeError("no")

    @rq.task(name="m.later")
    async def later() -> None:
        return None

    for _ in range(4):
        await fast.enqueue()
    await flaky.enqueue()
    # Due in an hour: its queue wait starts when it is due, not at its enqueue.
    await later.with_options(delay_s=3600).enqueue()
    await drain(rq, [queue])
    report = await rq.metrics(queue, "1h")
    assert totals(report) == {"m.fast": (4, 0), "m.flaky": (0, 2)}
    by_task = {t.task: t.counts for t in report.tasks}
    run_p50 = by_task["m.fast"].run_ms(0.5)
    assert run_p50 is not None and 25 <= run_p50 <= 250, run_p50  # a 30 ms sleep, in its bucket
    assert sum(by_task["m.flaky"].run) == 2 and sum(by_task["m.fast"].wait) == 4
    # The queue's points: one per minute of the hour, its attempts in them, all tasks together.
    assert (report.step_s, len(report.points)) == (60, 60)
    assert sum(p.counts.succeeded for p in report.points) == 4

    advance(rq, 3600)
    await drain(rq, [queue])
    for range_ in task_metrics.RANGES[1:]:
        assert totals(await rq.metrics(queue, range_)) == {
            "m.fast": (4, 0),
            "m.flaky": (0, 2),
            "m.later": (1, 0),
        }, range_
    report = await rq.metrics(queue, "1h")
    assert totals(report) == {"m.later": (1, 0)}  # the hour moved on
    later_wait = report.tasks[0].counts.wait_ms(0.99)
    assert later_wait is not None and later_wait < 1000, later_wait  # not the hour of its delay
    earlier = await rq.metrics(queue, "24h")
    assert sum(p.counts.succeeded for p in earlier.points) == 5
    assert sum(p.counts.failed for p in earlier.points) == 2
    assert earlier.step_s == 900 and len(earlier.points) in (96, 97)


async def test_one_tasks_points(rq: RedisQ, queue: str) -> None:
    @rq.task(name="m.one")
    async def one() -> None:
        return None

    @rq.task(name="m.other")
    async def other() -> None:
        return None

    await one.enqueue()
    await other.enqueue()
    await other.enqueue()
    await drain(rq, [queue])
    report = await rq.metrics(queue, "1h", task="m.other")
    assert sum(p.counts.succeeded for p in report.points) == 2
    assert [t.task for t in report.tasks] == ["m.other"]
    nothing = await rq.metrics(queue, "1h", task="m.never")
    assert sum(p.counts.attempts for p in nothing.points) == 0 and nothing.tasks == []


async def test_points_fall_in_the_minutes_and_steps_of_the_clock(rq: RedisQ, queue: str) -> None:
    @rq.task(name="m.tick")
    async def tick() -> None:
        return None

    await tick.enqueue()
    await drain(rq, [queue])
    first_minute = rq.now_ms() // 60_000
    advance(rq, 5 * 60)
    await tick.enqueue()
    await tick.enqueue()
    await drain(rq, [queue])
    report = await rq.metrics(queue, "1h")
    counted = {p.at_ms // 60_000: p.counts.succeeded for p in report.points if p.counts.succeeded}
    assert counted == {first_minute: 1, first_minute + 5: 2}
    # A coarser step folds them; every point starts on a multiple of the step.
    day = await rq.metrics(queue, "24h")
    assert all(p.at_ms % 900_000 == 0 for p in day.points[1:])
    assert sum(p.counts.succeeded for p in day.points) == 3


async def test_the_overview_sums_every_queue(rq: RedisQ, queue: str) -> None:
    second = f"{queue}-2"

    @rq.task(name="m.a")
    async def a() -> None:
        return None

    @rq.task(name="m.b", queue=second, retries=0)
    async def b() -> None:
        raise ValueError("b")

    await a.enqueue()
    await a.enqueue()
    await b.enqueue()
    await drain(rq, [queue, second])
    for range_ in task_metrics.RANGES:
        report = await rq.system_metrics([queue, second], range_)
        assert sum(p.counts.succeeded for p in report.points) == 2
        assert sum(p.counts.failed for p in report.points) == 1
        assert {q.task: (q.counts.succeeded, q.counts.failed) for q in report.queues} == {
            queue: (2, 0),
            second: (0, 1),
        }
    assert (await rq.system_metrics([queue], "72h")).step_s == 3600


async def test_records_expire_after_72_hours_and_30_days(rq: RedisQ, queue: str) -> None:
    @rq.task(name="m.ttl")
    async def ttl() -> None:
        return None

    async with running_worker(rq, FAST, queues=[queue]):
        await (await ttl.enqueue()).result(timeout=10)
    keys = rq.queue_keys(queue)
    minute, hour = rq.now_ms() // 60_000, rq.now_ms() // 3_600_000
    client = rq.backend().client
    for key, days in (
        (keys.metrics("m", minute), 3),
        (keys.metrics("m", minute, "m.ttl"), 3),
        (keys.metrics("h", hour), 30),
        (keys.metrics("h", hour, "m.ttl"), 30),
    ):
        left = await client.ttl(key)
        assert days * 86400 < left <= days * 86400 + 7200, (key, left)
        assert len(await client.get(key)) <= task_metrics.RECORD_BYTES


def test_percentiles_come_from_the_buckets() -> None:
    run = [0] * task_metrics.BUCKETS
    run[BOUNDS_MS.index(100)] = 90  # (50, 100] ms
    run[BOUNDS_MS.index(1000)] = 10  # (500, 1000] ms
    counts = Counts(100, 0, tuple(run))
    p50, p95, p99 = (counts.run_ms(q) for q in (0.5, 0.95, 0.99))
    assert p50 is not None and 50 < p50 <= 100
    assert p95 is not None and 500 < p95 <= 1000 and p99 is not None and p95 < p99 <= 1000
    assert percentile([0] * task_metrics.BUCKETS, 0.5) is None
    slowest = [0] * task_metrics.BUCKETS
    slowest[-1] = 1
    assert percentile(slowest, 0.99) == BOUNDS_MS[-1]  # over 30 min: reported as its lower bound


def test_a_record_decodes_and_adds_up() -> None:
    raw = bytes(range(8)) + b"\0" * (task_metrics.RECORD_BYTES - 8)
    counts = Counts.decode(raw)
    assert (counts.succeeded, counts.failed) == (0x00010203, 0x04050607)
    assert Counts.decode(None) == Counts() and Counts.decode(b"\0\0\0\x05") == Counts(5)
    assert (counts + counts).succeeded == 2 * 0x00010203


async def test_an_unknown_range_is_refused(rq: RedisQ, queue: str) -> None:
    with pytest.raises(ValueError, match="range must be one of 1h, 24h, 72h, 30d"):
        await rq.metrics(queue, "2h")
