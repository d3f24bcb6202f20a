"""redisq.testing's drain, clock and eager mode in-process, on every kind of server (a Cluster too)."""

from __future__ import annotations

import pytest

import redisq.testing
from redisq import JobFailed, JobState, RedisQ, Retry
from redisq.testing import advance, drain, eager


async def test_a_drain_counts_each_outcome_and_keeps_what_failed(rq: RedisQ) -> None:
    @rq.task(retries=0)
    async def ok(n: int) -> int:
        return n

    @rq.task(retries=0)
    async def broken() -> None:
        raise KeyError("missing")

    @rq.task(retries=2)
    async def later() -> None:
        raise Retry(in_s=30)

    # A job of a task this client does not know: refused unexecuted, a failure all the same.
    async with RedisQ(rq.url, prefix=rq.settings.prefix, default_queue=rq.settings.default_queue) as other:

        @other.task(name="ghost")
        async def ghost() -> None: ...

        await ghost.enqueue()
    await rq.enqueue_many([ok.call(1), ok.call(2), broken.call(), later.call()])
    report = await drain(rq)
    assert (report.succeeded, report.retried, report.dead, report.aborted, report.ran) == (2, 1, 2, 0, 5)
    errors = sorted(type(f.error).__name__ for f in report.failures)
    assert errors == ["JobFailed", "KeyError"]  # Retry is a plan, not a failure
    refused = next(f for f in report.failures if isinstance(f.error, JobFailed))
    assert refused.task == "ghost" and "UnknownTask" in str(refused.error)
    await broken.enqueue()
    with pytest.raises(KeyError, match="missing"):
        await drain(rq, raise_on_failure=True)
    advance(rq, 30)
    assert (await drain(rq)).retried == 1  # asked again: its second attempt, due 30 s later still


async def test_advance_moves_this_clients_clock_only(rq: RedisQ) -> None:
    other = RedisQ(rq.url, prefix=rq.settings.prefix)
    before = rq.now_ms()
    advance(rq, 90)
    assert 89_000 < rq.now_ms() - other.now_ms() < 91_000 and rq.now_ms() >= before + 90_000
    with pytest.raises(ValueError, match="forward only"):
        advance(rq, -1)
    other.close()


async def test_eager_runs_the_jobs_that_a_job_enqueues_within_the_same_enqueue(rq: RedisQ) -> None:
    @rq.task
    async def child(n: int) -> int:
        return n + 1

    @rq.task
    async def parent(n: int) -> str:
        return (await child.enqueue(n)).id  # eager too: left to the drain that runs this job

    with eager(rq):
        job = await parent.enqueue(1)
        assert (await job.info()).state is JobState.SUCCEEDED
        assert await rq.job(await job.result()).result() == 2


def test_the_public_names_are_pinned() -> None:
    names = ["DrainReport", "Failure", "advance", "drain", "drain_sync", "eager"]
    assert sorted(redisq.testing.__all__) == names
