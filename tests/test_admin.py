"""Dead letters, listings, stats and the health verdict."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from redisq import Backoff, HealthThresholds, JobFailed, JobNotFound, JobState, RedisQ, Worker
from redisq.core.embedded import free_port

from .conftest import FAST, running_worker


async def dead_jobs(rq: RedisQ, n: int, fail: set[int]) -> list[str]:
    """Enqueue n jobs of a task that fails (no retries) while its argument is in `fail`."""

    @rq.task(retries=0, name="admin.maybe_fail")
    async def maybe_fail(i: int) -> int:
        if i in fail:
            raise RuntimeError(f"failing {i}")
        return i

    jobs = await rq.enqueue_many([maybe_fail.call(i) for i in range(n)])
    return [j.id for j in jobs]


async def wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_dead_letters_list_inspect_requeue_and_purge(rq: RedisQ, queue: str) -> None:
    fail = {0, 1, 2, 3, 4}
    ids = await dead_jobs(rq, 8, fail)
    worker = Worker(rq, settings=FAST)
    run = asyncio.create_task(worker.run())

    async def settled() -> bool:
        s = await rq.stats(queue)
        return s.succeeded + s.dead == 8

    await wait_for(settled)
    dead = await rq.jobs(queue, JobState.DEAD, limit=10)
    assert sorted(d.args[0] for d in dead) == [0, 1, 2, 3, 4]
    assert all(d.error is not None and d.error.message == f"failing {d.args[0]}" for d in dead)
    page = await rq.jobs(queue, JobState.DEAD, offset=2, limit=2)
    assert [d.id for d in page] == [d.id for d in dead[2:4]]

    fail.clear()  # the cause is fixed: requeued jobs now succeed
    assert await rq.requeue_dead(queue, [ids[0]]) == 1
    assert await rq.job(ids[0]).result(timeout=5) == 0
    assert await rq.requeue_dead(queue, [ids[0]]) == 0  # not dead any more

    fail.update({1, 2})
    assert await rq.purge(queue, JobState.DEAD) == 4
    with pytest.raises(JobNotFound):
        await rq.job(ids[1]).info()
    assert (await rq.stats(queue)).dead == 0
    worker.stop()
    await run


async def test_requeue_all_dead(rq: RedisQ, queue: str) -> None:
    fail = set(range(30))
    await dead_jobs(rq, 30, fail)
    async with running_worker(rq):

        async def all_dead() -> bool:
            return (await rq.stats(queue)).dead == 30

        await wait_for(all_dead)
        fail.clear()
        assert await rq.requeue_dead(queue, []) == 0  # an empty selection is nothing, not everything
        assert (await rq.stats(queue)).dead == 30
        assert await rq.requeue_dead(queue) == 30

        async def all_done() -> bool:
            return (await rq.stats(queue)).succeeded == 30

        await wait_for(all_done)
    stats = await rq.stats(queue)
    assert (stats.dead, stats.counters["requeued"], stats.counters["dead"]) == (0, 30, 30)


def test_dead_letters_sync_twins(rq_sync: RedisQ, queue: str) -> None:
    @rq_sync.task(retries=0)
    def never() -> None:
        raise RuntimeError("no")

    job = never.delay()
    assert rq_sync.jobs_sync(queue, JobState.QUEUED)[0].id == job.id
    assert rq_sync.purge_sync(queue, JobState.QUEUED) == 1
    assert rq_sync.stats_sync(queue).queued == 0
    assert rq_sync.requeue_dead_sync(queue) == 0


async def test_stats_count_throughput_and_oldest_age(rq: RedisQ, queue: str) -> None:
    @rq.task(retries=1, backoff=Backoff.fixed(0.01))
    async def work(fail: bool) -> None:
        if fail:
            raise ValueError("x")

    await work.enqueue(False)
    await asyncio.sleep(0.3)
    before = await rq.stats(queue)
    assert before.queued == 1
    assert before.oldest_queued_age_s is not None and before.oldest_queued_age_s >= 0.25
    await rq.enqueue_many([work.call(i % 4 == 0) for i in range(20)])
    async with running_worker(rq):

        async def settled() -> bool:
            s = await rq.stats(queue)
            return s.succeeded + s.dead == 21

        await wait_for(settled)
    s = await rq.stats(queue)
    assert (s.succeeded, s.dead, s.failed, s.counters["enqueued"]) == (16, 5, 10, 21)
    assert s.queued == s.active == s.scheduled == 0 and s.oldest_queued_age_s is None
    assert s.throughput_per_minute >= 26 and s.failures_per_minute >= 10


async def test_health_verdict_follows_workers_and_backlog(rq: RedisQ, queue: str) -> None:
    @rq.task
    async def idle() -> None:
        await asyncio.sleep(0)

    report = await rq.health([queue])
    assert report.ok and report.redis_ok and report.redis_latency_ms is not None

    job = await idle.enqueue()
    report = await rq.health([queue])
    assert not report.ok
    assert report.reasons == [f"queue {queue!r} has 1 jobs and no live worker"]

    async with running_worker(rq) as worker:
        await job.result(timeout=5)

        async def registered() -> bool:
            return bool((await rq.health([queue])).workers)

        await wait_for(registered)
        report = await rq.health()  # all known queues
        assert report.ok, report.reasons
        assert [w.id for w in report.workers] == [worker.id]
        assert report.workers[0].queues == [queue]
        assert report.queues[0].workers == 1

        await rq.enqueue_many([idle.with_options(delay_s=60).call() for _ in range(3)])
        strict = HealthThresholds(max_backlog=0, max_oldest_age_s=0.0)
        assert (await rq.health([queue], strict)).ok  # scheduled jobs are not a backlog
    report = await rq.health([queue])
    assert report.workers == []  # a stopped worker deregisters at once
    assert not report.ok


async def test_health_reports_redis_down_without_raising(prefix: str) -> None:
    async with RedisQ(f"redis://127.0.0.1:{free_port()}/0", prefix=prefix) as rq:
        report = await rq.health(["x"])
        assert not report.ok and not report.redis_ok
        assert report.reasons[0].startswith("redis unreachable")
        assert not rq.health_sync(["x"]).ok


async def test_stats_of_many_queues_and_per_minute_history(rq: RedisQ, queue: str) -> None:
    @rq.task(name="admin.history", retries=0)
    async def maybe(fail: bool) -> None:
        if fail:
            raise RuntimeError("no")

    other = f"{queue}-other"
    jobs = await rq.enqueue_many([maybe.call(i % 3 == 0) for i in range(9)])
    await maybe.with_options(queue=other).enqueue(False)
    async with running_worker(rq, queues=[queue]):
        for job in jobs:
            with contextlib.suppress(JobFailed):
                await job.result(timeout=5)
    mine, theirs = await rq.stats_many([queue, other])
    assert (mine.queue, mine.succeeded, mine.dead, mine.succeeded_kept) == (queue, 6, 3, 6)
    assert (theirs.queue, theirs.queued) == (other, 1)
    history = await rq.history(queue, minutes=5)
    assert len(history) == 5 and history[-1][0] == rq.now_ms() // 60_000
    assert sum(h[1] for h in history) == 6 and sum(h[2] for h in history) == 3
    assert rq.history_sync(queue, minutes=1)[-1][1:] in ((6, 3), (0, 0))  # (0, 0): the minute just turned
    with pytest.raises(ValueError, match="120"):
        await rq.history(queue, minutes=500)
