"""Jobs leased ahead of free slots (worker/lookahead.py): short jobs get some, long ones none; a job leased
ahead is given back unrun, its attempt unspent, when the worker stops, and an abort reaches it."""

from __future__ import annotations

import asyncio
import dataclasses

from redisq import Job, JobState, RedisQ
from redisq.core.worker.lookahead import WAIT_MAX_S, Lookahead

from .conftest import FAST, running_worker

ONE_SLOT = dataclasses.replace(FAST, concurrency=1, prefetch=1)


def test_as_many_as_the_slots_finish_during_a_fetch_and_no_more_than_the_limit() -> None:
    ahead = Lookahead(concurrency=10, limit=10)
    assert ahead.jobs() == 0  # no job seen yet: none leased ahead
    ahead.fetched(0.001)
    ahead.ran(0.003)  # 10 slots x 1 ms / 3 ms: 3.3 jobs end during a fetch; twice that, half in flight
    assert ahead.jobs() == 6
    for _ in range(50):
        ahead.ran(0.0001)
    assert ahead.jobs() == 10  # 100 would end: the limit
    for _ in range(50):
        ahead.ran(2.0)
    assert ahead.jobs() == 0  # jobs of seconds: none, whatever the limit
    for _ in range(50):
        ahead.ran(0.0001)
    ahead.stalled(WAIT_MAX_S)  # a job leased ahead waited that long: the slots hold long jobs
    assert ahead.jobs() == 0
    assert Lookahead(concurrency=10, limit=0).jobs() == 0


async def test_short_jobs_lease_one_ahead_which_goes_back_unrun_when_the_worker_stops(rq: RedisQ) -> None:
    ran: list[str] = []
    release = asyncio.Event()

    @rq.task
    async def quick(name: str) -> None:
        ran.append(name)

    @rq.task
    async def slow(name: str) -> None:
        ran.append(name)
        await release.wait()

    async with running_worker(rq, ONE_SLOT) as worker:
        for i in range(5):  # the worker learns that its jobs are short
            await (await quick.enqueue(f"warm-{i}")).result(timeout=5)
        first, second = await rq.enqueue_many([slow.call("first"), quick.call("second")])
        for _ in range(500):
            if ran[-1:] == ["first"]:
                break
            await asyncio.sleep(0.01)
        assert ran[-1] == "first"
        await asyncio.sleep(0.2)
        assert (await second.info()).state is JobState.ACTIVE  # leased ahead, waiting for the one slot
        assert "second" not in ran
        worker.stop()
        await asyncio.sleep(0.2)
        assert (await second.info()).state is JobState.QUEUED  # back at once, not after the grace
        release.set()
    assert "second" not in ran
    assert await first.result(timeout=5) is None
    info = await second.info()
    assert info.state is JobState.QUEUED and info.attempts == 0


async def test_long_jobs_lease_none_ahead_so_another_worker_can_run_them(rq: RedisQ) -> None:
    @rq.task
    async def long(seconds: float) -> None:
        await asyncio.sleep(seconds)

    async with running_worker(rq, ONE_SLOT):
        await (await long.enqueue(0.3)).result(timeout=5)  # the worker learns that its jobs are long
        running, waiting = await rq.enqueue_many([long.call(0.5), long.call(0.0)])
        for _ in range(200):
            if (await running.info()).state is JobState.ACTIVE:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert (await running.info()).state is JobState.ACTIVE
        assert (await waiting.info()).state is JobState.QUEUED
        assert await waiting.result(timeout=5) is None


class Holding:
    """A task whose `hold=True` jobs wait for `release`; `ran` lists what started, in order."""

    def __init__(self, rq: RedisQ) -> None:
        self.rq = rq
        self.ran: list[str] = []
        self.release = asyncio.Event()

        @rq.task
        async def step(name: str, hold: bool = False) -> None:
            self.ran.append(name)
            if hold:
                await self.release.wait()

        self.step = step

    async def one_leased_ahead(self) -> tuple[Job, Job]:
        """Under a running ONE_SLOT worker: "first" holds the slot and "second" is leased ahead of it."""
        for i in range(5):  # the worker learns that its jobs are short
            await (await self.step.enqueue(f"warm-{i}")).result(timeout=5)
        first, second = await self.rq.enqueue_many([self.step.call("first", True), self.step.call("second")])
        for _ in range(500):
            if (await second.info()).state is JobState.ACTIVE and self.ran[-1:] == ["first"]:
                break
            await asyncio.sleep(0.01)
        assert (await second.info()).state is JobState.ACTIVE and "second" not in self.ran
        return first, second


async def test_a_job_leased_ahead_behind_a_long_one_goes_to_an_idle_worker(rq: RedisQ) -> None:
    """Short jobs, then a long one: the job leased ahead of the switch waits at most WAIT_MAX_S behind it,
    then goes back, unrun and its attempt unspent, and the idle worker runs it while the long one runs."""
    held = Holding(rq)
    ran, release, step = held.ran, held.release, held.step
    async with running_worker(rq, ONE_SLOT) as busy:
        first, second = await held.one_leased_ahead()
        assert (await second.info()).worker == busy.id  # leased ahead by the busy worker
        async with running_worker(rq, ONE_SLOT) as idle:
            assert await second.result(timeout=WAIT_MAX_S + 5) is None
            assert not release.is_set() and (await first.info()).state is JobState.ACTIVE
            info = await second.info()
            assert (info.worker, info.attempts) == (idle.id, 1)
            await asyncio.sleep(0.3)
            third = await step.enqueue("third")  # the busy worker, stalled, leases nothing ahead now
            for _ in range(40):  # well within WAIT_MAX_S: it did not wait behind the long job
                if "third" in ran:
                    break
                await asyncio.sleep(0.02)
            assert "third" in ran and (await third.info()).worker == idle.id
            release.set()
            assert await first.result(timeout=5) is None
    assert sorted(ran) == sorted(["first", "second", "third", *(f"warm-{i}" for i in range(5))])


async def test_a_job_leased_ahead_that_is_aborted_never_runs(rq: RedisQ) -> None:
    held = Holding(rq)
    ran, release = held.ran, held.release
    async with running_worker(rq, ONE_SLOT):
        first, second = await held.one_leased_ahead()
        assert await second.abort()
        await asyncio.sleep(0.3)
        release.set()
        assert await first.result(timeout=5) is None
        for _ in range(500):
            if (await second.info()).state is JobState.ABORTED:
                break
            await asyncio.sleep(0.01)
    assert (await second.info()).state is JobState.ABORTED
    assert "second" not in ran
