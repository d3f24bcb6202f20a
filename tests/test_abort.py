"""Aborting jobs (issue 12): a running async job is cancelled on its worker, a sync one is told, a job
that ignores it is written off at its timeout, and a lost abort message is made up for by the lease
renewal. Real worker, real Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import threading
import time

import pytest
import redis

from redisq import JobFailed, JobNotFound, JobState, RedisQ, current_job

from .conftest import FAST, own_server, running_worker

pytestmark = pytest.mark.timeout(60)


async def wait_for_state(rq: RedisQ, job_id: str, state: JobState, within_s: float) -> float:
    """Seconds until the job is in `state` (fails after `within_s`)."""
    started = time.monotonic()
    while (await rq.job(job_id).info()).state is not state:
        assert time.monotonic() - started < within_s, f"{job_id} not {state.value} within {within_s}s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_a_running_async_job_is_cancelled_and_ends_aborted_without_retry(
    rq: RedisQ, queue: str
) -> None:
    started = asyncio.Event()
    seen: list[str] = []

    @rq.task(retries=3)
    async def slow() -> str:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return "finished"

    job = await slow.enqueue()
    async with running_worker(rq):
        await asyncio.wait_for(started.wait(), 5)
        t0 = time.monotonic()
        assert await job.abort() is True
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout=5)
        latency = time.monotonic() - t0
        assert failed.value.state is JobState.ABORTED
        assert latency < 1.0
        await asyncio.sleep(0.5)  # a retry would be scheduled by now
        info = await job.info()
    assert seen == ["cancelled"]
    assert info.state is JobState.ABORTED
    assert info.attempts == 1
    assert info.error is not None and info.error.type == "JobAborted"
    stats = await rq.stats(queue)
    assert stats.counters["aborted"] == 1
    assert stats.counters["retried"] == 0 and stats.active == 0 and stats.scheduled == 0
    assert await job.abort() is False  # final now


async def test_a_sync_job_that_checks_the_signal_stops(rq: RedisQ) -> None:
    started = threading.Event()
    checks: list[bool] = []

    @rq.task
    def crunch() -> str:
        started.set()
        job = current_job.get()
        assert job is not None
        for _ in range(3000):
            checks.append(job.aborted)
            job.raise_if_aborted()
            time.sleep(0.01)
        return "done"

    job = await crunch.enqueue()
    async with running_worker(rq):
        await asyncio.to_thread(started.wait, 5)
        assert await job.abort() is True
        assert await wait_for_state(rq, job.id, JobState.ABORTED, 2.0) < 1.0
    info = await job.info()
    assert checks[0] is False and checks[-1] is True
    assert info.error is not None and "raise_if_aborted" in info.error.message
    assert info.result is None


async def test_a_sync_job_that_ignores_the_signal_is_written_off_at_its_timeout(rq: RedisQ) -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    @rq.task(timeout=1.5, retries=2)
    def stubborn() -> None:
        started.set()
        release.wait(3)
        finished.set()

    job = await stubborn.enqueue()
    async with running_worker(rq):
        await asyncio.to_thread(started.wait, 5)
        t0 = time.monotonic()
        assert await job.abort() is True
        await asyncio.sleep(0.5)
        assert (await job.info()).state is JobState.ACTIVE  # it runs on until its timeout
        await wait_for_state(rq, job.id, JobState.ABORTED, 3.0)
        elapsed = time.monotonic() - t0
        await asyncio.sleep(0.5)
        info = await job.info()
    # Its thread ends here, not during a later test (whose log it would write to: the worker's stop no
    # longer takes the extra second that used to cover it).
    release.set()
    await asyncio.to_thread(finished.wait, 5)
    await asyncio.sleep(0.05)
    assert 0.9 < elapsed < 2.5  # the timeout of 1.5 s, counted from its start
    assert info.state is JobState.ABORTED and info.attempts == 1
    assert info.error is not None and "timeout" in info.error.message


async def test_a_job_not_started_is_cancelled_and_ended_jobs_refuse(rq: RedisQ) -> None:
    @rq.task
    async def noop() -> int:
        return 1

    waiting = await noop.enqueue()
    later = await noop.with_options(delay_s=60).enqueue()
    assert await waiting.abort() is True
    assert waiting.abort_sync() is False  # cancelled: final
    assert (await waiting.info()).state is JobState.CANCELLED
    assert later.abort_sync() is True
    assert (await later.info()).state is JobState.CANCELLED
    done = await noop.enqueue()
    async with running_worker(rq):
        assert await done.result(timeout=5) == 1
    assert await done.abort() is False
    assert (await done.info()).state is JobState.SUCCEEDED
    with pytest.raises(JobNotFound):
        await rq.job(f"{waiting.queue}:{'0' * 32}").abort()


async def test_an_abort_lost_with_the_subscription_is_found_by_the_lease_renewal(
    queue: str, prefix: str
) -> None:
    started = asyncio.Event()
    settings = dataclasses.replace(FAST, lease_s=3.0)  # renewed every second
    with own_server() as server:
        rq = RedisQ(server.url, prefix=prefix, default_queue=queue)
        admin = redis.Redis.from_url(server.url)
        try:

            @rq.task
            async def slow() -> None:
                started.set()
                await asyncio.sleep(30)

            job = await slow.enqueue()
            async with running_worker(rq, settings) as worker:
                await asyncio.wait_for(started.wait(), 5)
                channel = f"{prefix}:{{{queue}}}:abort:{worker.id}"  # a shard channel of the queue's slot
                assert admin.pubsub_shardnumsub(channel) == [(channel.encode(), 1)]
                assert admin.client_kill_filter(_type="pubsub") == 1
                assert admin.pubsub_shardnumsub(channel) == [(channel.encode(), 0)]
                assert await job.abort() is True
                # Published to nobody: the listener pauses half a second before it subscribes again.
                assert admin.pubsub_shardnumsub(channel) == [(channel.encode(), 0)]
                took = await wait_for_state(rq, job.id, JobState.ABORTED, 5.0)
            assert took < 2.5
        finally:
            admin.close()
            await rq.aclose()


async def test_abort_latency_over_twenty_aborts(rq: RedisQ) -> None:
    """Abort call to `aborted` seen by a result waiter; the median and max are in the report of issue 12."""
    running = asyncio.Queue[str]()

    @rq.task
    async def sleeper(n: int) -> None:
        job = current_job.get()
        assert job is not None
        await running.put(job.id)
        await asyncio.sleep(60)

    latencies = []
    async with running_worker(rq):
        for n in range(20):
            job = await sleeper.enqueue(n)
            assert await asyncio.wait_for(running.get(), 5) == job.id
            t0 = time.perf_counter()
            await job.abort()
            with pytest.raises(JobFailed):
                await job.result(timeout=5)
            latencies.append(time.perf_counter() - t0)
    median_ms, max_ms = statistics.median(latencies) * 1000, max(latencies) * 1000
    print(f"abort latency over 20: median {median_ms:.1f} ms, max {max_ms:.1f} ms")
    assert max(latencies) < 1.0


# On the Cluster this failed 3 times in loaded full-suite runs (a job still running 5 s after its abort),
# never when run alone, under CPU load, or with its module: not understood yet, see issue 13's note.
@pytest.mark.single_server
async def test_a_job_busy_with_redis_calls_is_aborted_all_the_same(rq: RedisQ, queue: str) -> None:
    """A cancellation that lands while one of the job's Redis commands awaits its reply can be swallowed by
    redis-py; the worker cancels again at each renewal report until the job stops."""
    started = asyncio.Event()

    @rq.task(retries=0)
    async def chatty() -> None:
        started.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            await rq.set_progress(0.5, "talking to Redis")  # nearly always inside a command

    jobs = [await chatty.enqueue() for _ in range(5)]
    async with running_worker(rq, settings=dataclasses.replace(FAST, lease_s=1.5)):
        await asyncio.wait_for(started.wait(), 5)
        await asyncio.sleep(0.2)
        for job in jobs:
            assert await job.abort() is True
        for job in jobs:
            await wait_for_state(rq, job.id, JobState.ABORTED, within_s=5)
    assert (await rq.stats(queue)).counters["aborted"] == 5
