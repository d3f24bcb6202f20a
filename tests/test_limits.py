"""Rate and concurrency limits, on a real Redis with in-process workers (issue 12).

The multi-process proofs (a measured rate, a concurrency cap across three worker processes) are in
tests/test_limits_workers.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import redis.asyncio

from redisq import (
    ConfigurationError,
    InvalidArguments,
    JobNotFound,
    JobState,
    Limit,
    RateLimit,
    RateLimited,
    RedisQ,
    Worker,
)
from redisq.core.config import WorkerSettings

FAST = WorkerSettings(max_idle_block_s=0.5, sweep_every_s=0.2, lease_s=1.0, shutdown_grace_s=2.0)


@contextlib.asynccontextmanager
async def running(
    rq: RedisQ, queues: Sequence[str], concurrency: int = 4, **options: Any
) -> AsyncIterator[Worker]:
    worker = Worker(rq, queues, concurrency=concurrency, settings=FAST, **options)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)


async def until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


class Tracker:
    """Records, per label, how many jobs run at once (the most seen) and when each one started."""

    def __init__(self) -> None:
        self.now: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.starts: dict[str, list[float]] = {}
        self.done: dict[str, int] = {}

    async def run(self, label: str, sleep_s: float) -> None:
        self.now[label] = self.now.get(label, 0) + 1
        self.most[label] = max(self.most.get(label, 0), self.now[label])
        self.starts.setdefault(label, []).append(time.monotonic())
        try:
            await asyncio.sleep(sleep_s)
        finally:
            self.now[label] -= 1
        self.done[label] = self.done.get(label, 0) + 1


# ---- declaring limits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count", "per"),
    [
        ("100/m", 100, 60.0),
        ("50/s", 50, 1.0),
        ("10/30s", 10, 30.0),
        ("1000/h", 1000, 3600.0),
        ("5/d", 5, 86400.0),
    ],
)
def test_rates_are_read_from_text(text: str, count: int, per: float) -> None:
    assert RateLimit.parse(text) == RateLimit(count, per)


@pytest.mark.parametrize("text", ["100", "100/ms", "/m", "0/s", "ten/s", "5/-1s", "1.5/s"])
def test_unreadable_rates_are_refused(text: str) -> None:
    with pytest.raises(ConfigurationError):
        RateLimit.parse(text)


def test_limits_are_checked_where_they_are_declared(rq: RedisQ) -> None:
    with pytest.raises(ConfigurationError, match="limits nothing"):
        Limit("nothing")
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        Limit("zero", max_concurrency=0)
    with pytest.raises(ConfigurationError, match="limit_key needs"):

        @rq.task(limit_key=lambda n: n)
        async def keyed_without_limit(n: int) -> None: ...

    with pytest.raises(ConfigurationError, match="positive"):
        rq.limit_queue("q", max_concurrency=-1)


async def test_a_limit_key_that_cannot_be_used_is_refused_at_enqueue(rq: RedisQ) -> None:
    @rq.task(max_concurrency=1, limit_key=lambda tenant: tenant)
    async def per_tenant(tenant: str) -> None: ...

    with pytest.raises(InvalidArguments, match="limit key"):
        await per_tenant.enqueue("bad\nkey")
    with pytest.raises(InvalidArguments, match="failed on these arguments"):
        await per_tenant.enqueue()  # type: ignore[call-arg]


# ---- enforced by the workers -------------------------------------------------------------------------


async def test_max_concurrency_holds_across_workers_and_a_limited_queue_does_not_block_another(
    rq: RedisQ, queue: str
) -> None:
    other = f"{queue}-free"
    seen = Tracker()

    @rq.task(max_concurrency=2)
    async def capped(n: int) -> None:
        await seen.run("capped", 0.3)

    @rq.task(queue=other)
    async def free(n: int) -> None:
        await seen.run("free", 0.01)

    await rq.enqueue_many([capped.call(i) for i in range(8)])
    await rq.enqueue_many([free.call(i) for i in range(40)])
    async with running(rq, [queue, other], concurrency=6), running(rq, [queue, other], concurrency=6):
        await until(lambda: _true(seen.done.get("free", 0) == 40), 10, "the free queue's jobs")
        assert seen.done.get("capped", 0) <= 4  # the free queue did not wait for the capped one
        await until(lambda: _true(seen.done.get("capped", 0) == 8), 15, "the capped jobs")
    assert seen.most["capped"] == 2  # never more than the limit, and the limit is used in full
    stats = await rq.stats(queue)
    assert stats.counters["succeeded"] == 8 and stats.active == 0 and stats.limited == 0


async def _true(value: bool) -> bool:
    return value


async def test_one_busy_key_does_not_starve_the_others(rq: RedisQ, queue: str) -> None:
    seen = Tracker()
    finished: list[str] = []

    @rq.task(max_concurrency=1, limit_key=lambda tenant, n: tenant)
    async def per_tenant(tenant: str, n: int) -> None:
        await seen.run(tenant, 0.1)
        finished.append(tenant)

    await rq.enqueue_many([per_tenant.call("big", i) for i in range(30)])
    await rq.enqueue_many([per_tenant.call(f"small{i}", i) for i in range(3)])
    async with running(rq, [queue], concurrency=4):
        await until(lambda: _true(len(finished) == 33), 15, "every job")
    # The three small tenants, queued behind 30 jobs of one tenant, ran among its first few.
    assert max(finished.index(f"small{i}") for i in range(3)) < 6
    assert seen.most["big"] == 1


async def test_a_queue_limit_spaces_starts_and_caps_running(rq: RedisQ, queue: str) -> None:
    seen = Tracker()

    @rq.task
    async def job(n: int) -> None:
        await seen.run("job", 0.01)

    rq.limit_queue(queue, rate_limit="10/s")
    jobs = await rq.enqueue_many([job.call(i) for i in range(11)])
    async with running(rq, [queue], concurrency=5), running(rq, [queue], concurrency=5):
        await until(lambda: _true(seen.done.get("job", 0) == 11), 10, "the jobs")
    # When the fetch script leased each (what the limit governs; a task's own clock reading comes later by
    # a delay that varies with the machine's load).
    starts = sorted([(await j.info()).started_at.timestamp() for j in jobs])  # type: ignore[union-attr]
    # 11 starts at 10/s: 100 ms apart, one of them up to 50 ms early (late fetches are forgiven that much,
    # see limits.lua), never two at once.
    assert starts[-1] - starts[0] >= 0.949  # millisecond timestamps: 0.95 can come out as 0.94999...
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.045


async def test_a_queue_concurrency_limit_across_workers(rq: RedisQ, queue: str) -> None:
    seen = Tracker()

    @rq.task
    async def job(n: int) -> None:
        await seen.run("job", 0.2)

    rq.limit_queue(queue, max_concurrency=2)
    await rq.enqueue_many([job.call(i) for i in range(8)])
    began = time.monotonic()
    async with running(rq, [queue], concurrency=5), running(rq, [queue], concurrency=5):
        await until(lambda: _true(seen.done.get("job", 0) == 8), 10, "the jobs")
    assert seen.most["job"] == 2
    # A finished job wakes the next at once (finish pushes a wake token): 4 rounds of 0.2 s, not 4 waits.
    assert time.monotonic() - began < 3


async def test_queue_concurrency_in_one_worker_serves_its_other_queues(rq: RedisQ, queue: str) -> None:
    reports = f"{queue}-reports"
    seen = Tracker()

    @rq.task
    async def email(n: int) -> None:
        await seen.run("email", 0.02)

    @rq.task(queue=reports)
    async def report(n: int) -> None:
        await seen.run("report", 0.3)

    await rq.enqueue_many([report.call(i) for i in range(6)])
    await rq.enqueue_many([email.call(i) for i in range(30)])
    async with running(rq, [reports, queue], concurrency=5, queue_concurrency={reports: 2}):
        await until(lambda: _true(seen.done.get("email", 0) == 30), 10, "the emails")
        assert seen.done.get("report", 0) <= 4  # long reports did not fill the worker
        await until(lambda: _true(seen.done.get("report", 0) == 6), 10, "the reports")
    assert seen.most["report"] == 2


def test_queue_concurrency_is_checked(rq: RedisQ, queue: str) -> None:
    with pytest.raises(ConfigurationError, match="does not serve"):
        Worker(rq, [queue], queue_concurrency={"other": 1})
    with pytest.raises(ConfigurationError, match="positive"):
        Worker(rq, [queue], queue_concurrency={queue: 0})


async def test_rate_limited_gives_the_attempt_back_and_pauses_its_key(rq: RedisQ, queue: str) -> None:
    starts: dict[str, list[float]] = {}
    refused: set[str] = set()

    @rq.task(rate_limit=RateLimit(100, per=1, burst=100), limit_key=lambda host, n: host, retries=0)
    async def call_partner(host: str, n: int) -> int:
        starts.setdefault(host, []).append(time.monotonic())
        if host == "slow.example" and not refused:
            refused.add(host)
            raise RateLimited(retry_after_s=0.6)  # the partner answered 429
        return n

    first = await call_partner.enqueue("slow.example", 0)
    async with running(rq, [queue], concurrency=4):
        await until(lambda: _true(bool(refused)), 5, "the 429")
        paused_at = time.monotonic()
        later = [await call_partner.enqueue("slow.example", i) for i in range(1, 4)]
        other = await call_partner.enqueue("fast.example", 9)
        assert await other.result(timeout=5) == 9  # another key is not paused
        assert starts["fast.example"][0] < paused_at + 0.5
        for job in (first, *later):
            await job.result(timeout=5)
    assert min(starts["slow.example"][1:]) >= paused_at + 0.4  # the key started nothing while paused
    info = await first.info()
    assert info.state is JobState.SUCCEEDED and info.attempts == 1  # retries=0, yet it ran again
    assert (await rq.stats(queue)).counters["deferred"] == 1


async def test_a_parked_job_that_is_cancelled_never_runs(rq: RedisQ, queue: str) -> None:
    ran: list[int] = []
    gate = asyncio.Event()

    @rq.task(max_concurrency=1)
    async def one_at_a_time(n: int) -> None:
        ran.append(n)
        if n == 0:
            await gate.wait()

    jobs = [await one_at_a_time.enqueue(i) for i in range(3)]
    async with running(rq, [queue], concurrency=4):
        await until(lambda: _true(ran == [0]), 5, "the first job")
        await until(_parked(rq, queue, 2), 5, "two parked jobs")
        assert await jobs[1].cancel()
        gate.set()
        await jobs[2].result(timeout=5)
        await asyncio.sleep(0.3)
    assert ran == [0, 2]
    assert (await jobs[1].info()).state is JobState.CANCELLED


def _parked(rq: RedisQ, queue: str, n: int) -> Any:
    async def check() -> bool:
        return (await rq.stats(queue)).limited == n

    return check


async def test_a_lapsed_lease_frees_its_place(rq: RedisQ, queue: str, redis_url: str, prefix: str) -> None:
    """A worker that dies holding a job's place under a limit: the sweeper gives the place back."""

    @rq.task(max_concurrency=1)
    async def single(n: int) -> int:
        return n

    from redisq.core.worker import protocol

    first = await single.enqueue(1)
    k = rq.queue_keys(queue)
    backend = rq.backend()
    _, taken = await backend.run(protocol.fetch(k, int(time.time() * 1000), 1, 500, "dead-worker", 10, 60))
    assert [d.uid for d in taken] == [first.id.split(":")[-1]]  # leased, then never renewed nor settled
    second = await single.enqueue(2)
    async with running(rq, [queue], concurrency=2):
        assert await second.result(timeout=8) == 2
        assert await first.result(timeout=8) == 1  # recovered from the lapsed lease, and run
    raw = redis.asyncio.Redis.from_url(redis_url)
    try:
        holders = await raw.zcard(f"{prefix}:{{{queue}}}:limit:task:{single.name}:running")
    finally:
        await raw.aclose()
    assert holders == 0


def test_worker_queues_may_carry_a_cap() -> None:
    from redisq.core.keys import split_worker_queues

    assert split_worker_queues("emails:5,reports:2,a:b,x:y:3") == (
        ["emails", "reports", "a:b", "x:y"],
        {"emails": 5, "reports": 2, "x:y": 3},
    )
    with pytest.raises(ConfigurationError, match="at least 1"):
        split_worker_queues("emails:0")
    with pytest.raises(ConfigurationError, match="not usable"):
        split_worker_queues("emails,,reports")


@pytest.mark.single_server  # a Cluster refuses shared limits (test_cluster.py)
async def test_a_shared_limit_counts_across_queues(rq: RedisQ, queue: str) -> None:
    second = f"{queue}-b"
    partner = Limit("partner-api", max_concurrency=1, shared=True)
    seen = Tracker()

    @rq.task(limits=[partner])
    async def from_a(n: int) -> None:
        await seen.run("partner", 0.05)

    @rq.task(queue=second, limits=[partner])
    async def from_b(n: int) -> None:
        await seen.run("partner", 0.05)

    await rq.enqueue_many([from_a.call(i) for i in range(6)] + [from_b.call(i) for i in range(6)])
    async with running(rq, [queue, second], concurrency=4), running(rq, [second, queue], concurrency=4):
        await until(lambda: _true(seen.done.get("partner", 0) == 12), 15, "every job")
    assert seen.most["partner"] == 1


async def test_a_damaged_limits_field_sends_the_job_to_the_dead_letters(
    rq: RedisQ, queue: str, redis_url: str
) -> None:
    ran: list[int] = []

    @rq.task(max_concurrency=3)
    async def limited_job(n: int) -> None:
        ran.append(n)

    jobs = [await limited_job.enqueue(i) for i in range(3)]
    raw = redis.asyncio.Redis.from_url(redis_url)
    try:
        await raw.hset(rq.queue_keys(queue).job(jobs[1].uid), "limits", "q\x1fbroken")
    finally:
        await raw.aclose()
    async with running(rq, [queue]):
        await jobs[0].result(timeout=5)
        await jobs[2].result(timeout=5)
    info = await jobs[1].info()
    assert info.state is JobState.DEAD and info.error is not None
    assert info.error.type == "CorruptRecord" and "limits" in info.error.message
    assert sorted(ran) == [0, 2]


async def test_purging_the_queued_jobs_purges_those_set_aside_too(rq: RedisQ, queue: str) -> None:
    gate = asyncio.Event()

    @rq.task(max_concurrency=1)
    async def one_at_a_time(n: int) -> None:
        await gate.wait()

    jobs = [await one_at_a_time.enqueue(i) for i in range(4)]
    async with running(rq, [queue], concurrency=4):
        await until(_parked(rq, queue, 3), 5, "three parked jobs")
        assert await rq.purge(queue, JobState.QUEUED) == 3
        assert (await rq.stats(queue)).limited == 0
        gate.set()
        await jobs[0].result(timeout=5)
    for job in jobs[1:]:
        with pytest.raises(JobNotFound):
            await job.info()


async def test_the_queued_listing_shows_the_jobs_set_aside_after_the_ready_ones(
    rq: RedisQ, queue: str
) -> None:
    from redisq.core.worker import protocol

    @rq.task(max_concurrency=1)
    async def single(n: int) -> None: ...

    @rq.task
    async def free(n: int) -> None: ...

    limited = [await single.enqueue(i) for i in range(4)]
    k = rq.queue_keys(queue)
    _, taken = await rq.backend().run(protocol.fetch(k, int(time.time() * 1000), 2, 60_000, "w", 10, 60))
    assert [d.uid for d in taken] == [limited[0].uid]  # the other three are set aside
    ready = [await free.enqueue(i) for i in range(3)]
    stats = await rq.stats(queue)
    assert (stats.queued, stats.limited) == (3, 3)
    expected = [j.id for j in ready + limited[1:]]
    oldest = [j.id for j in await rq.jobs(queue, JobState.QUEUED, offset=0, limit=10, newest_first=False)]
    assert oldest == expected
    newest = [j.id for j in await rq.jobs(queue, JobState.QUEUED, offset=0, limit=10, newest_first=True)]
    assert newest == expected[::-1]
    page = await rq.jobs(queue, JobState.QUEUED, offset=2, limit=2, newest_first=False)
    assert [j.id for j in page] == expected[2:4]
    page = await rq.jobs(queue, JobState.QUEUED, offset=1, limit=3, newest_first=True)
    assert [j.id for j in page] == expected[::-1][1:4]
