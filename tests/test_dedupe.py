"""Deduplication modes beyond the unique key (issue 16): `Dedupe.throttle` keeps the first job of a window
and ignores the calls within it; `Dedupe.debounce` runs only the last call of a burst, with its arguments.
Both are exact under 50 concurrent enqueues: one script per call, atomic on the queue's slot."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from redisq import ConfigurationError, Dedupe, JobFailed, JobState, RedisQ

from .conftest import FAST, running_worker


async def _unique_ttl_ms(rq: RedisQ, queue: str, key: str) -> int:
    ttl: int = await rq.backend().client.pttl(rq.queue_keys(queue).part(f"unique:{key}"))
    return ttl


async def test_throttle_keeps_the_first_job_of_its_window_whatever_becomes_of_it(
    rq: RedisQ, queue: str
) -> None:
    runs: Counter[str] = Counter()

    @rq.task(dedupe=Dedupe.throttle(2.0), unique=lambda user: f"sync:{user}")
    async def sync_account(user: str) -> None:
        runs[user] += 1

    burst = await asyncio.gather(*(sync_account.enqueue("ann") for _ in range(50)))
    first = [job for job in burst if job.created]
    assert len(first) == 1 and {job.id for job in burst} == {first[0].id}
    assert (await sync_account.enqueue("bob")).created  # another key, another window
    assert 0 < await _unique_ttl_ms(rq, queue, "sync:ann") <= 2000
    raw = await rq.backend().client.hgetall(rq.queue_keys(queue).job(first[0].uid))
    assert b"unique_key" not in raw  # the key lives for its window, not with the job
    assert await first[0].delete()
    again = await sync_account.enqueue("ann")  # the job is gone, the window is not
    assert not again.created and again.id == first[0].id

    for _ in range(300):  # the window ends on Redis's clock
        if await _unique_ttl_ms(rq, queue, "sync:ann") < 0:
            break
        await asyncio.sleep(0.01)
    after = await sync_account.enqueue("ann")
    assert after.created and after.id != first[0].id
    async with running_worker(rq, FAST):
        assert await after.result(timeout=10) is None
        await asyncio.sleep(0.2)
    assert runs == Counter({"ann": 1, "bob": 1})


async def test_debounce_runs_only_the_last_call_of_a_burst_with_its_arguments(rq: RedisQ, queue: str) -> None:
    seen: list[int] = []

    @rq.task(dedupe=Dedupe.debounce(0.5), unique=lambda n: "reindex")
    async def reindex(n: int) -> None:
        seen.append(n)

    calls = [await reindex.enqueue(n) for n in range(10)]
    assert all(job.created for job in calls)
    states = [(await job.info()).state for job in calls]
    assert states == [JobState.CANCELLED] * 9 + [JobState.SCHEDULED]
    async with running_worker(rq, FAST):
        with pytest.raises(JobFailed):
            await calls[0].result(timeout=1)  # its waiter hears that it was replaced
        assert await calls[-1].result(timeout=10) is None
    assert seen == [9]


async def test_debounce_under_50_concurrent_calls_runs_exactly_one(rq: RedisQ, queue: str) -> None:
    seen: list[int] = []

    @rq.task(dedupe=Dedupe.debounce(0.3), unique=lambda n: "refresh")
    async def refresh(n: int) -> None:
        seen.append(n)

    burst = await asyncio.gather(*(refresh.enqueue(n) for n in range(50)))
    infos = [await job.info() for job in burst]
    waiting = [info for info in infos if info.state is JobState.SCHEDULED]
    assert len(waiting) == 1, Counter(info.state for info in infos)
    assert sum(info.state is JobState.CANCELLED for info in infos) == 49
    async with running_worker(rq, FAST):
        assert await rq.job(waiting[0].id).result(timeout=10) is None
        await asyncio.sleep(0.3)
    assert seen == waiting[0].args
    counters = (await rq.stats(queue)).counters
    assert (counters["enqueued"], counters["cancelled"], counters["succeeded"]) == (50, 49, 1)


async def test_debounce_never_replaces_a_job_that_started(rq: RedisQ, queue: str) -> None:
    seen: list[int] = []
    started, gate = asyncio.Event(), asyncio.Event()

    @rq.task(dedupe=Dedupe.debounce(0.05), unique=lambda n: "export")
    async def export(n: int) -> None:
        started.set()
        await gate.wait()
        seen.append(n)

    first = await export.enqueue(1)
    async with running_worker(rq, FAST):
        await asyncio.wait_for(started.wait(), 10)
        second = await export.enqueue(2)  # a new window: the running job is not touched
        assert second.created and (await first.info()).state is JobState.ACTIVE
        gate.set()
        assert await first.result(timeout=10) is None and await second.result(timeout=10) is None
    assert seen == [1, 2]


async def test_a_dedupe_per_call_and_its_checks(rq: RedisQ, queue: str) -> None:
    @rq.task
    async def ping(n: int) -> None: ...

    throttled = ping.with_options(key="ping", dedupe=Dedupe.throttle(60))
    first, second = await throttled.enqueue(1), await throttled.enqueue(2)
    assert first.created and not second.created and second.id == first.id
    plain = [await ping.enqueue(3), await ping.enqueue(3)]
    assert all(job.created for job in plain)  # without a dedupe or a key, every call is a job
    with pytest.raises(ConfigurationError, match="window"):
        Dedupe.throttle(0)
    with pytest.raises(ConfigurationError, match="mode"):
        Dedupe("sometimes", 1)  # type: ignore[arg-type]


async def _until_active(job: Any) -> None:
    for _ in range(200):
        if (await job.info()).state is JobState.ACTIVE:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{job} never started")


@pytest.mark.parametrize("concurrent", [False, True])
async def test_keep_last_if_active_collapses_calls_into_one_follow_up_with_the_newest_arguments(
    rq: RedisQ, queue: str, concurrent: bool
) -> None:
    seen: list[int] = []
    running = asyncio.Event()

    @rq.task(dedupe=Dedupe.keep_last_if_active())
    async def rebuild(n: int) -> int:
        seen.append(n)
        if n < 0:
            await running.wait()  # the first one runs until told
        return n

    first = await rebuild.enqueue(-1)
    assert (await rebuild.enqueue(-2)).id == first.id  # not started yet: the same job
    async with running_worker(rq, FAST):
        await _until_active(first)
        if concurrent:
            calls = await asyncio.gather(*(rebuild.enqueue(n) for n in range(50)))
        else:
            calls = [await rebuild.enqueue(n) for n in range(50)]
        follow_up = calls[0] if calls[0].created else next(job for job in calls if job.created)
        assert [job.created for job in calls].count(True) == 1
        assert {job.id for job in calls} == {follow_up.id} and follow_up.id != first.id
        assert (await follow_up.info()).state is JobState.WAITING
        running.set()
        assert await first.result(timeout=10) == -1
        ran = await follow_up.result(timeout=10)
        after = await rebuild.enqueue(99)  # the follow-up ended: a new job
        assert after.created and await after.result(timeout=10) == 99
    assert seen == [-1, ran, 99]
    if not concurrent:
        assert ran == 49  # the newest call's arguments
    assert (await rq.stats(queue)).counters["enqueued"] == 3
