"""A job record stays in Redis's compact encoding (issue 15): the payload, the one long value of a waiting
job, is kept in pieces of 64 bytes (`pn`, `p1`..`pN`) so that the record is a listpack rather than a hash
table, about a third of the memory. Whatever the form, the job runs with its exact arguments, shows them,
and a record that turns into a hash table anyway (a long result, error or progress note) gets its payload
back in one field."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from redisq import Backoff, ConfigurationError, JobFailed, JobState, RedisQ, Settings, current_job

from .conftest import FAST, running_worker


async def record(rq: RedisQ, queue: str, uid: str) -> dict[bytes, bytes]:
    fields: dict[bytes, bytes] = await rq.backend().client.hgetall(rq.queue_keys(queue).job(uid))
    return fields


async def encoding(rq: RedisQ, queue: str, uid: str) -> str:
    found: bytes = await rq.backend().client.object("encoding", rq.queue_keys(queue).job(uid))
    return found.decode()


async def test_a_waiting_job_is_a_compact_record_up_to_1_kb_of_payload(rq: RedisQ, queue: str) -> None:
    @rq.task(name="mem.echo")
    async def echo(text: str) -> str:
        return text[:10]

    texts = ["short", "x" * 100, "é" * 450]  # one piece, two, and a payload of ~960 bytes: 16 pieces
    jobs = [await echo.enqueue(text) for text in texts]
    for job, text in zip(jobs, texts, strict=True):
        fields = await record(rq, queue, job.uid)
        assert await encoding(rq, queue, job.uid) == "listpack"
        assert all(len(value) <= 64 for value in fields.values())
        assert (b"payload" in fields) == (len(text) < 20), fields.keys()
        assert (await job.info()).args == [text]

    async with running_worker(rq, FAST):
        results = [await job.result(timeout=10) for job in jobs]
    assert results == [text[:10] for text in texts]


async def test_a_payload_beyond_sixteen_pieces_stays_whole(rq: RedisQ, queue: str) -> None:
    @rq.task(name="mem.size")
    async def size(text: str) -> int:
        return len(text)

    job = await size.enqueue("y" * 5000)
    fields = await record(rq, queue, job.uid)
    assert b"pn" not in fields and len(fields[b"payload"]) > 5000
    async with running_worker(rq, FAST):
        assert await job.result(timeout=10) == 5000


async def test_a_long_error_result_or_progress_joins_the_payload_back(rq: RedisQ, queue: str) -> None:
    failed_once: set[str] = set()
    reported = asyncio.Event()

    @rq.task(name="mem.flaky", retries=1, backoff=0.3)
    async def flaky(text: str) -> str:
        job_id = current_job.get().id  # type: ignore[union-attr]
        if job_id not in failed_once:
            failed_once.add(job_id)
            raise RuntimeError("a first attempt that fails with a long message " + "!" * 80)
        return text + "?" * 100  # a result longer than a piece

    @rq.task(name="mem.slow")
    async def slow(text: str) -> None:
        await rq.set_progress(0.5, "a progress note longer than one piece of a payload " + "." * 40)
        reported.set()
        await asyncio.sleep(0.5)

    text = "z" * 100
    retried, progressed = await flaky.enqueue(text), await slow.enqueue(text)
    assert b"pn" in await record(rq, queue, retried.uid)
    async with running_worker(rq, FAST):
        for _ in range(200):  # the first attempt failed: waiting for its retry, with its long error
            if (await retried.info()).state is JobState.SCHEDULED:
                break
            await asyncio.sleep(0.02)
        waiting = await record(rq, queue, retried.uid)
        assert b"error" in waiting and b"pn" not in waiting and b"p1" not in waiting
        assert waiting[b"payload"].count(b"z") == 100
        assert await retried.result(timeout=10) == text + "?" * 100
        await asyncio.wait_for(reported.wait(), 10)
        running = await record(rq, queue, progressed.uid)
        assert b"progress" in running and b"pn" not in running and b"p1" not in running
        await progressed.result(timeout=10)
    done = await record(rq, queue, retried.uid)
    assert b"pn" not in done and (await retried.info()).args == [text]


async def test_fields_at_their_defaults_are_left_out_and_read_as_their_defaults(
    rq: RedisQ, redis_url: str, prefix: str, queue: str
) -> None:
    """A priority of 0 and the default result ttl (3600 s) are not written: 27 bytes of every record.
    Readers (this version's and earlier ones) take the defaults; any other value is written."""
    other = RedisQ(redis_url, prefix=prefix, default_queue=queue, result_ttl_s=7200)
    try:

        @rq.task(name="mem.plain")
        async def plain() -> None: ...

        jobs = [await plain.enqueue(), await plain.with_options(priority=3).enqueue()]
        jobs.append(await other.task(name="mem.plain")(plain.fn).enqueue())
        fields = [await record(rq, queue, job.uid) for job in jobs]
        assert b"priority" not in fields[0] and b"result_ttl" not in fields[0]
        assert fields[1][b"priority"] == b"3" and b"result_ttl" not in fields[1]
        assert b"priority" not in fields[2] and fields[2][b"result_ttl"] == b"7200"
        assert [(await job.info()).priority for job in jobs] == [0, 3, 0]
        async with running_worker(rq, FAST):
            for job in jobs:
                assert await job.result(timeout=10) is None
        client = rq.backend().client
        ttls = [await client.ttl(rq.queue_keys(queue).job(job.uid)) for job in jobs]
        assert 3500 < ttls[0] <= 3600 and 3500 < ttls[1] <= 3600 and 7100 < ttls[2] <= 7200, ttls
    finally:
        await other.aclose()


async def test_a_waiting_job_leaves_out_its_queued_state_and_default_attempts(rq: RedisQ, queue: str) -> None:
    """A waiting job of a task with the default retries is a record of two fields: what it runs and when
    it was enqueued. Every reader takes the state `queued` and the default attempts (4) for it: the info,
    cancel, abort, delete, a result waiter, and the worker, which gives such a job all four attempts."""
    attempts: list[int] = []

    @rq.task(name="mem.bare")
    async def bare() -> None: ...

    @rq.task(name="mem.failing", backoff=Backoff.fixed(0))
    async def failing() -> None:
        attempts.append(current_job.get().attempt)  # type: ignore[union-attr]
        raise RuntimeError("always")

    waiting = [await bare.enqueue() for _ in range(4)]
    assert set(await record(rq, queue, waiting[0].uid)) == {b"enqueued_at", b"payload"}
    info = await waiting[0].info()
    assert (info.state, info.max_attempts, info.attempts) == (JobState.QUEUED, 4, 0)
    assert await waiting[1].cancel() and (await waiting[1].info()).state is JobState.CANCELLED
    assert await waiting[2].abort() and (await waiting[2].info()).state is JobState.CANCELLED
    assert await waiting[3].delete()
    with pytest.raises(TimeoutError):
        await waiting[0].result(timeout=0.2)  # found, queued: the waiter waits

    fewer = await bare.with_options(retries=2).enqueue()
    later = await bare.with_options(delay_s=60).enqueue()
    assert (await record(rq, queue, fewer.uid))[b"max_attempts"] == b"3"
    assert (await record(rq, queue, later.uid))[b"state"] == b"scheduled"
    assert (await later.info()).state is JobState.SCHEDULED

    doomed = await failing.enqueue()
    assert b"max_attempts" not in await record(rq, queue, doomed.uid)
    async with running_worker(rq, FAST):
        assert await waiting[0].result(timeout=10) is None
        with pytest.raises(JobFailed):
            await doomed.result(timeout=20)
    assert attempts == [1, 2, 3, 4]
    assert (await doomed.info()).state is JobState.DEAD


async def test_a_record_written_whole_before_pieces_still_runs(rq: RedisQ, queue: str) -> None:
    """Records of jobs enqueued by a version before issue 15 hold their payload in one field."""

    @rq.task(name="mem.legacy")
    async def legacy(text: str) -> int:
        return len(text)

    job = await legacy.enqueue("w" * 300)
    fields = await record(rq, queue, job.uid)
    pieces = [fields[b"p%d" % i] for i in range(1, int(fields[b"pn"]) + 1)]
    key = rq.queue_keys(queue).job(job.uid)
    client = rq.backend().client
    await client.hdel(key, "pn", *(f"p{i}" for i in range(1, len(pieces) + 1)))
    await client.hset(key, "payload", b"".join(pieces))
    assert (await job.info()).args == ["w" * 300]
    async with running_worker(rq, FAST):
        assert await job.result(timeout=10) == 300


async def test_envelope_version_1_writes_the_records_the_previous_version_reads(
    redis_url: str, prefix: str, queue: str
) -> None:
    """A rolling upgrade: workers of the previous version require a whole `payload` holding a version-1
    envelope (they bury anything else as malformed). A client set to version 1 writes exactly that, and
    this version's workers run it."""
    rq = RedisQ(redis_url, prefix=prefix, default_queue=queue, envelope_version=1)
    try:

        @rq.task(name="mem.compat")
        async def compat(text: str, *, times: int) -> str:
            return text * times

        job = await compat.enqueue("v" * 200, times=2)
        fields = await record(rq, queue, job.uid)
        assert b"pn" not in fields and b"p1" not in fields
        assert (fields[b"state"], fields[b"max_attempts"]) == (
            b"queued",
            b"4",
        )  # the previous version requires them
        assert orjson.loads(fields[b"payload"]) == {
            "v": 1,
            "task": "mem.compat",
            "args": ["v" * 200],
            "kwargs": {"times": 2},
            "meta": {},
        }
        async with running_worker(rq, FAST):
            assert await job.result(timeout=10) == "v" * 400
    finally:
        await rq.aclose()


def test_envelope_version_is_1_or_2() -> None:
    assert Settings.from_env({"REDISQ_ENVELOPE_VERSION": "1"}).envelope_version == 1
    with pytest.raises(ConfigurationError, match="envelope_version"):
        Settings(envelope_version=3)
