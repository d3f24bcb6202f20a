"""Each attempt of a job is kept (issue 17): an attempt that failed and was retried (finish.lua), one whose
worker died mid-run (sweep.lua), and the one that killed a dead job put back by hand (requeue_dead.lua,
retry_edited.lua); and a dead job can be put back with edited arguments under its own id. On every
server kind of the core suite, the Cluster included (conftest.ON_CLUSTER_TOO)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from redisq import Backoff, InvalidArguments, JobState, RedisQ, current_job
from redisq.core import retry_edit
from redisq.core.errors import ConcurrentUpdate, PayloadTooLarge
from redisq.core.job import AttemptOutcome, JobInfo, first_line
from redisq.core.task import JobSpec

from . import clusterfaultapp
from .conftest import FAST, running_worker
from .faultkit import Workers, wait_until

FAILED, LOST, DEAD, SUCCEEDED = (
    AttemptOutcome.FAILED,
    AttemptOutcome.LOST,
    AttemptOutcome.DEAD,
    AttemptOutcome.SUCCEEDED,
)


async def test_a_job_that_fails_twice_then_succeeds_shows_three_attempts(rq: RedisQ, queue: str) -> None:
    @rq.task(name="history.third_time", retries=2, backoff=Backoff.fixed(0.05))
    async def third_time() -> str:
        attempt = current_job.get().attempt
        if attempt < 3:
            raise RuntimeError(f"boom {attempt}\nthe second line stays in the traceback only")
        return "done"

    job = await third_time.enqueue()
    async with running_worker(rq, FAST) as worker:
        assert await job.result(timeout=10) == "done"
    info = await job.info()
    log = info.attempt_log()
    assert [(a.attempt, a.outcome) for a in log] == [(1, FAILED), (2, FAILED), (3, SUCCEEDED)]
    assert [(a.error_type, a.error_message) for a in log] == [
        ("RuntimeError", "boom 1"),
        ("RuntimeError", "boom 2"),
        ("", ""),  # the record's `error` is the second attempt's: not the success's
    ]
    assert {a.worker for a in log} == {worker.id}
    for a in log:
        assert a.started_at is not None and a.finished_at is not None and a.started_at <= a.finished_at
    assert log[0].finished_at <= log[1].started_at  # type: ignore[operator]
    assert len(info.history) == 2 and info.error is not None and info.error.message.startswith("boom 2")

    # What the history costs: MEMORY USAGE of the record with and without it (a record with a traceback
    # is a hash table already, so this is its two entries).
    client, key = rq.backend().client, rq.queue_keys(queue).job(job.uid)
    with_history = await client.memory_usage(key, samples=0)
    await client.hdel(key, "history")
    without = await client.memory_usage(key, samples=0)
    print(f"\n[history] a 3-attempt job's record: {with_history} B, {with_history - without} B of it history")
    assert 0 < with_history - without < 400


async def test_the_history_keeps_the_last_25_attempts(rq: RedisQ) -> None:
    @rq.task(name="history.stubborn", retries=29, backoff=Backoff.fixed(0))
    async def stubborn() -> None:
        attempt = current_job.get().attempt
        if attempt < 30:
            raise ValueError(f"no {attempt} " + "é" * 150)  # a message over 200 bytes is cut whole

    job = await stubborn.enqueue()
    async with running_worker(rq, FAST):
        await job.result(timeout=30)
    info = await job.info()
    assert [a.attempt for a in info.history] == list(range(5, 30))
    assert [a.attempt for a in info.attempt_log()][-1] == 30
    message = info.history[-1].error_message
    assert message.startswith("no 29 é") and message.endswith("…") and len(message.encode()) == 203
    assert message == first_line(f"no 29 {'é' * 150}")  # cut between two characters, as Python cuts it


async def test_a_dead_job_put_back_keeps_the_attempt_that_killed_it(rq: RedisQ) -> None:
    fail = True

    @rq.task(name="history.once", retries=0)
    async def once() -> str:
        if fail:
            raise KeyError("missing")
        return "ok"

    job = await once.enqueue()
    async with running_worker(rq, FAST):
        with pytest.raises(Exception, match="missing"):
            await job.result(timeout=10)
        dead = await job.info()
        assert [(a.outcome, a.error_type) for a in dead.attempt_log()] == [(DEAD, "KeyError")]
        assert dead.history == ()
        fail = False
        assert await job.retry()
        assert await job.result(timeout=10) == "ok"
    log = (await job.info()).attempt_log()
    assert [(a.attempt, a.outcome, a.error_type) for a in log] == [(1, DEAD, "KeyError"), (1, SUCCEEDED, "")]
    assert log[0].finished_at is not None and log[0].finished_at <= log[1].started_at  # type: ignore[operator]


# ---- edit and retry --------------------------------------------------------------------------------------


async def test_edit_and_retry_keeps_the_id_and_the_history(rq: RedisQ, queue: str) -> None:
    @rq.task(name="history.add", retries=0)
    async def add(a: int, b: int = 0) -> int:
        if a < 0:
            raise ValueError(f"a must not be negative, got {a}")
        return a + b

    job = await add.enqueue(-1, b=2)
    async with running_worker(rq, FAST):
        with pytest.raises(Exception, match="negative"):
            await job.result(timeout=10)
        before = await job.info()
        assert not await (await add.enqueue(1)).retry_with([1])  # not dead: nothing to edit

        # Arguments the signature refuses, or too big, change nothing.
        for args, kwargs, error in [
            (["x"], {}, InvalidArguments),
            ([1, 2, 3], {}, InvalidArguments),
            ([1], {"c": 1}, InvalidArguments),
        ]:
            with pytest.raises(error):
                await job.retry_with(args, kwargs)
        assert await job.info() == before

        assert await job.retry_with([5], {"b": 2})
        assert await job.result(timeout=10) == 7
    after = await job.info()
    assert (after.id, after.args, after.kwargs, after.state) == (job.id, [5], {"b": 2}, JobState.SUCCEEDED)
    assert after.meta == before.meta
    assert [(a.outcome, a.error_type) for a in after.attempt_log()] == [(DEAD, "ValueError"), (SUCCEEDED, "")]
    stats = await rq.stats(queue)
    assert stats.counters["requeued"] == 1 and stats.dead == 0


async def test_edit_and_retry_refuses_a_payload_over_the_limit(
    redis_url: str, prefix: str, queue: str
) -> None:
    async with RedisQ(redis_url, prefix=prefix, default_queue=queue, max_payload_bytes=200) as small:

        @small.task(name="history.echo", retries=0)
        async def echo(text: str) -> str:
            raise RuntimeError(text)

        job = await echo.enqueue("short")
        async with running_worker(small, FAST):
            with pytest.raises(Exception, match="short"):
                await job.result(timeout=10)
        with pytest.raises(PayloadTooLarge):
            await job.retry_with(["x" * 500])
        info = await job.info()
        assert (info.state, info.args) == (JobState.DEAD, ["short"])


async def test_an_edit_made_meanwhile_is_never_overwritten(redis_url: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="history.fragile", retries=0)
    async def fragile(n: int) -> None:
        raise RuntimeError(str(n))

    job = await fragile.enqueue(1)
    async with running_worker(rq, FAST):
        with pytest.raises(Exception, match="1"):
            await job.result(timeout=10)
    other = redis.Redis.from_url(redis_url)
    key = rq.queue_keys(queue).job(job.uid)

    def check_and_race(task: str, args: list[object], kwargs: dict[str, object]) -> JobSpec:
        spec = rq.call_by_name(task, args, kwargs, queue=queue)
        other.hset(key, "payload", b'[2,"history.fragile",[3]]')  # another edit lands in between
        other.hdel(key, "pn", "p1", "p2")
        return spec

    op = retry_edit.retry_edited(rq.queue_keys(queue), job.id, job.uid, rq.settings, check_and_race, [2], {})
    with pytest.raises(ConcurrentUpdate):
        await rq.backend().run(op)
    info = await job.info()
    assert (info.state, info.args) == (JobState.DEAD, [3])
    other.close()


def test_a_damaged_history_line_is_left_out() -> None:
    fields = {
        b"payload": b'[2,"t",[]]',
        b"state": b"queued",
        b"history": b'not json\n[1,"w",1000,2000,"failed","E","m"]\n[2,"w",1,2,"sideways","E","m"]\n[3]',
    }
    info = JobInfo.from_hash("q:u", "q", fields)
    assert [(a.attempt, a.outcome, a.worker, a.error_type) for a in info.history] == [(1, FAILED, "w", "E")]
    assert info.history[0].started_at is not None and info.history[0].started_at.timestamp() == 1.0


# ---- a worker killed mid-run -----------------------------------------------------------------------------


@pytest.fixture
def killable(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[tuple[RedisQ, Workers]]:
    """A client with the Cluster fault app's task (`cf.work`) and worker processes to SIGKILL, on every
    server kind (`redis_url` is not the test's own argument: conftest parametrizes it)."""
    queue = f"q-{uuid.uuid4().hex[:8]}"
    client = clusterfaultapp.build(redis_url, prefix, queue, None)
    workers = Workers(redis_url, prefix, queue, tmp_path, app="tests.clusterfaultapp:app")
    try:
        yield client, workers
    finally:
        workers.stop_all()


@pytest.fixture
async def killable_rq(killable: tuple[RedisQ, Workers]) -> AsyncIterator[tuple[RedisQ, Workers]]:
    yield killable
    await killable[0].aclose()


async def test_a_worker_killed_mid_run_leaves_a_lost_attempt(killable_rq: tuple[RedisQ, Workers]) -> None:
    rq, workers = killable_rq
    queue = rq.settings.default_queue
    job = await rq.get_task("cf.work").enqueue(queue, 1, 2.0)
    doomed = workers.start(concurrency=2, lease=1.0)

    def running() -> JobInfo | None:
        info = rq.job(job.id).info_sync()
        return info if info.state is JobState.ACTIVE else None

    first = await asyncio.to_thread(wait_until, running, 30, "the job to start", workers.logs)
    assert first.worker is not None and f".{doomed.pid}." in first.worker
    doomed.kill()
    async with running_worker(rq, FAST) as rescuer:  # its sweeper takes the lapsed lease back
        assert await job.result(timeout=30) == 1
    info = await job.info()
    log = info.attempt_log()
    assert [(a.attempt, a.outcome, a.worker) for a in log] == [
        (1, LOST, first.worker),
        (2, SUCCEEDED, rescuer.id),
    ]
    assert log[0].error_type == "LeaseExpired" and first.worker in log[0].error_message
    assert log[0].started_at == first.started_at and log[0].finished_at is not None
    assert info.recovered == 1
