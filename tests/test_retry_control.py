"""Retry control (issue 12): `retry_on`, `give_up_on` and `raise Retry(...)`, on a real worker."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from redisq import Backoff, ConfigurationError, JobFailed, JobState, JobTimeout, RedisQ, Retry, current_job

from .conftest import running_worker

pytestmark = pytest.mark.timeout(60)


class BadInput(ValueError):
    pass


async def test_retry_on_retries_only_those_errors_and_their_subclasses(rq: RedisQ, queue: str) -> None:
    calls: list[str] = []

    @rq.task(retries=3, backoff=Backoff.fixed(0.05), retry_on=(httpx.TransportError,))
    async def call_partner(fail_with: str) -> str:
        job = current_job.get()
        assert job is not None
        calls.append(f"{fail_with}-{job.attempt}")
        if fail_with == "connect" and job.attempt < 3:
            raise httpx.ConnectError("partner unreachable")  # a TransportError subclass
        if fail_with == "status":
            raise KeyError("no such field in the answer")
        return "ok"

    flaky = await call_partner.enqueue("connect")
    broken = await call_partner.enqueue("status")
    async with running_worker(rq):
        assert await flaky.result(timeout=5) == "ok"
        with pytest.raises(JobFailed) as failed:
            await broken.result(timeout=5)
    assert failed.value.state is JobState.DEAD
    assert sorted(calls) == ["connect-1", "connect-2", "connect-3", "status-1"]
    info = await broken.info()
    assert info.attempts == 1 and info.max_attempts == 4
    assert info.error is not None and info.error.type == "KeyError"
    assert "retry_on" in info.error.note and "TransportError" in info.error.note
    assert (await rq.stats(queue)).counters["retried"] == 2


async def test_timeouts_retry_under_retry_on_only_when_listed(rq: RedisQ) -> None:
    @rq.task(timeout=0.2, retries=2, backoff=Backoff.fixed(0.05), retry_on=(JobTimeout, ConnectionError))
    async def slow_then_fast() -> str:
        job = current_job.get()
        assert job is not None
        if job.attempt == 1:
            await asyncio.sleep(5)
        return "fast"

    @rq.task(timeout=0.2, retries=2, retry_on=(ConnectionError,))
    async def always_slow() -> None:
        await asyncio.sleep(5)

    retried, doomed = await slow_then_fast.enqueue(), await always_slow.enqueue()
    async with running_worker(rq):
        assert await retried.result(timeout=5) == "fast"
        with pytest.raises(JobFailed):
            await doomed.result(timeout=5)
    info = await doomed.info()
    assert info.attempts == 1 and info.error is not None and info.error.type == "JobTimeout"
    assert issubclass(JobTimeout, TimeoutError)


async def test_give_up_on_sends_the_job_to_the_dead_letters_at_once(rq: RedisQ, queue: str) -> None:
    attempts: list[int] = []

    @rq.task(retries=5, backoff=Backoff.fixed(0.05), give_up_on=(ValueError,))
    async def parse(kind: str) -> None:
        job = current_job.get()
        assert job is not None
        attempts.append(job.attempt)
        if kind == "bad":
            raise BadInput("not a number: 'x'")
        if job.attempt < 2:
            raise ConnectionError("try again")

    bad = await parse.enqueue("bad")
    async with running_worker(rq):
        with pytest.raises(JobFailed):
            await bad.result(timeout=5)
        ok = await parse.enqueue("ok")
        await ok.result(timeout=5)
    info = await bad.info()
    assert info.state is JobState.DEAD and info.attempts == 1
    assert info.error is not None and info.error.type == "BadInput" and "not a number" in info.error.message
    assert "give_up_on" in info.error.note
    assert (await ok.info()).attempts == 2  # other errors still retry
    dead = await rq.jobs(queue, JobState.DEAD)
    assert [j.id for j in dead] == [bad.id]


async def test_raise_retry_runs_again_at_the_time_asked_spending_an_attempt(
    rq: RedisQ, caplog: pytest.LogCaptureFixture
) -> None:
    stamps: list[float] = []

    @rq.task(retries=2)
    async def poll() -> str:
        job = current_job.get()
        assert job is not None
        stamps.append(time.monotonic())
        if job.attempt == 1:
            raise Retry(in_s=0.6)
        if job.attempt == 2:
            raise Retry(at=datetime.now(timezone.utc) + timedelta(seconds=0.4))
        return "ready"

    caplog.set_level(logging.INFO, logger="redisq.worker")
    job = await poll.enqueue()
    async with running_worker(rq):
        assert await job.result(timeout=10) == "ready"
    assert len(stamps) == 3
    assert 0.55 <= stamps[1] - stamps[0] < 1.5
    assert 0.3 <= stamps[2] - stamps[1] < 1.3
    assert (await job.info()).attempts == 3
    # a planned retry is not logged as a failure
    assert not [r for r in caplog.records if r.name == "redisq.worker" and r.levelno >= logging.WARNING]
    assert any("asked to run again" in r.getMessage() for r in caplog.records)


async def test_raise_retry_on_the_last_attempt_goes_dead(rq: RedisQ) -> None:
    @rq.task(retries=1)
    async def never_ready() -> None:
        raise Retry(in_s=0.05)

    job = await never_ready.enqueue()
    async with running_worker(rq):
        with pytest.raises(JobFailed):
            await job.result(timeout=5)
    info = await job.info()
    assert info.state is JobState.DEAD and info.attempts == 2
    assert info.error is not None and info.error.type == "Retry" and "last" in info.error.note


def test_bad_retry_options_are_refused(rq: RedisQ) -> None:
    with pytest.raises(ConfigurationError):
        rq.task(retry_on=[ValueError])(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        rq.task(give_up_on=("ValueError",))(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite number of seconds"):
        Retry(in_s=-1)
    with pytest.raises(ValueError, match="finite number of seconds"):
        Retry(in_s=float("nan"))
    with pytest.raises(ValueError, match="not both"):
        Retry(in_s=1, at=datetime.now(timezone.utc))
