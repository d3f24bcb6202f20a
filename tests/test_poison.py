"""Damaged data never costs a good job: poison records at the head, middle and end of a batch (issue 11).

Redis does not roll a script back, so a script that fails half-way keeps the writes before the failure:
before the fix, a job record that was not a hash (or lacked `max_attempts`) behind good jobs in `queued`
made `fetch.lua` fail after its ZPOPMIN, and the good jobs of the same batch ended in no index at all.
Here every kind of damage is put among good jobs, in every index a script reads from; every good job must
run exactly once, every damaged one must end in the dead letters with a reason and never run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
import redis.asyncio

from redisq import CorruptData, Job, JobNotFound, JobState, RedisQ, Task
from redisq.core import ops
from redisq.core.worker import protocol

from .conftest import FAST, running_worker

WIDE = dataclasses.replace(FAST, concurrency=32)  # one fetch takes the whole batch

Damage = Callable[[redis.asyncio.Redis, str], Awaitable[Any]]


async def _replace(r: redis.asyncio.Redis, key: str, *write: Any) -> None:
    await r.delete(key)
    await r.execute_command(*write)


async def _drop_piece(r: redis.asyncio.Redis, key: str) -> None:
    """A payload kept in pieces (issue 15) that lost one of them: the job must not run a truncated one.
    (This test's payloads are short enough to be kept whole: the record is made a two-piece one.)"""
    payload = await r.hget(key, "payload")
    await r.hdel(key, "payload")
    await r.hset(key, mapping={"pn": 2, "p1": payload})


# What can happen to a record: another type under its key, a field missing, a number that is not one.
DAMAGE: dict[str, tuple[Damage, str]] = {
    "string": (lambda r, k: _replace(r, k, "SET", k, "garbage"), "CorruptRecord"),
    "list": (lambda r, k: _replace(r, k, "RPUSH", k, "a", "b"), "CorruptRecord"),
    "set": (lambda r, k: _replace(r, k, "SADD", k, "a"), "CorruptRecord"),
    "zset": (lambda r, k: _replace(r, k, "ZADD", k, 1, "a"), "CorruptRecord"),
    "no payload": (lambda r, k: r.hdel(k, "payload", "pn"), "CorruptRecord"),
    "a payload piece missing": (_drop_piece, "CorruptRecord"),
    "max_attempts not a number": (lambda r, k: r.hset(k, "max_attempts", "three"), "CorruptRecord"),
    "attempts not a number": (lambda r, k: r.hset(k, "attempts", "x"), "CorruptRecord"),
    "expires_at not a number": (lambda r, k: r.hset(k, "expires_at", "soon"), "CorruptRecord"),
    "payload not JSON": (lambda r, k: r.hset(k, "payload", "{{"), "MalformedPayload"),
    "unknown task": (
        lambda r, k: r.hset(k, "payload", orjson.dumps({"v": 1, "task": "nope", "args": [], "kwargs": {}})),
        "UnknownTask",
    ),
}
POSITIONS = (0, 4, 8)  # head, middle and end of a batch of nine


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def counting_task(rq: RedisQ, retries: int = 0) -> tuple[Task[[int], None], Counter[int]]:
    runs: Counter[int] = Counter()

    @rq.task(retries=retries)
    async def work(n: int) -> None:
        runs[n] += 1

    return work, runs


async def _wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def _settled(rq: RedisQ, queue: str, good: int, bad: int) -> bool:
    s = await rq.stats(queue)
    return s.succeeded == good and s.dead == bad and s.queued == s.active == s.scheduled == 0


async def _check_outcome(
    rq: RedisQ, queue: str, ids: list[str], runs: Counter[int], damaged: set[int], reason: str
) -> None:
    assert runs == Counter({n: 1 for n in range(len(ids)) if n not in damaged})  # once each, none damaged
    for n, job_id in enumerate(ids):
        info = await rq.job(job_id).info()
        if n in damaged:
            assert info.state is JobState.DEAD
            assert info.error is not None and info.error.type == reason, info.error
        else:
            assert info.state is JobState.SUCCEEDED
    s = await rq.stats(queue)
    assert (s.counters["dead"], s.counters["succeeded"]) == (len(damaged), len(ids) - len(damaged))


# Every kind among jobs taken from `queued`; a few among delayed jobs, which `fetch` promotes when due.
WHERE = [("queued", kind) for kind in DAMAGE] + [
    ("scheduled", kind) for kind in ("string", "no payload", "attempts not a number")
]


@pytest.mark.parametrize(("where", "kind"), WHERE)
async def test_damaged_records_go_dead_and_the_rest_of_the_batch_runs(
    rq: RedisQ, raw: redis.asyncio.Redis, queue: str, where: str, kind: str
) -> None:
    work, runs = counting_task(rq)
    task = work.with_options(delay_s=0.3) if where == "scheduled" else work
    jobs = await rq.enqueue_many([task.call(n) for n in range(9)])
    damage, reason = DAMAGE[kind]
    for n in POSITIONS:
        await damage(raw, rq.queue_keys(queue).job(jobs[n].uid))

    async with running_worker(rq, WIDE):
        await _wait_for(lambda: _settled(rq, queue, 9 - len(POSITIONS), len(POSITIONS)))
    await _check_outcome(rq, queue, [j.id for j in jobs], runs, set(POSITIONS), reason)


@pytest.mark.parametrize("kind", ["string", "attempts not a number", "max_attempts not a number"])
async def test_damaged_records_with_lapsed_leases_go_dead_and_the_rest_are_recovered(
    rq: RedisQ, raw: redis.asyncio.Redis, queue: str, kind: str
) -> None:
    work, runs = counting_task(rq, retries=1)  # the lapsed delivery spent one attempt
    jobs = await rq.enqueue_many([work.call(n) for n in range(9)])
    keys = rq.queue_keys(queue)
    # A worker that leased the whole batch and died: its leases lapse at once.
    _, leased = await rq.backend().run(protocol.fetch(keys, rq.now_ms(), 9, 1, "gone.1.x", 100, 3600))
    assert len(leased) == 9
    damage, reason = DAMAGE[kind]
    for n in POSITIONS:
        await damage(raw, keys.job(jobs[n].uid))

    async with running_worker(rq, WIDE):
        await _wait_for(lambda: _settled(rq, queue, 9 - len(POSITIONS), len(POSITIONS)))
    await _check_outcome(rq, queue, [j.id for j in jobs], runs, set(POSITIONS), reason)
    assert (await rq.stats(queue)).counters["recovered"] == 9 - len(POSITIONS)


async def test_a_record_damaged_while_its_job_runs_does_not_fail_the_batch(
    rq: RedisQ, raw: redis.asyncio.Redis, queue: str
) -> None:
    """The finish script meets a record that is no longer a hash: that delivery is stale, the others of
    the same settlement batch are written, and the sweeper buries the damaged one once its lease lapses."""
    release = asyncio.Event()
    done: list[int] = []

    @rq.task(retries=0)
    async def slow(n: int) -> None:
        await release.wait()
        done.append(n)

    jobs = await rq.enqueue_many([slow.call(n) for n in range(5)])
    async with running_worker(rq, WIDE):
        await _wait_for(lambda: _count_active(rq, queue, 5))
        key = rq.queue_keys(queue).job(jobs[2].uid)
        await _replace(raw, key, "SET", key, "x")
        release.set()
        await _wait_for(lambda: _settled(rq, queue, 4, 1))
    assert sorted(done) == [0, 1, 2, 3, 4]  # it ran once: the damage came after its start
    info = await jobs[2].info()
    assert info.state is JobState.DEAD and info.error is not None and info.error.type == "CorruptRecord"
    assert [(await j.info()).state for j in jobs[:2] + jobs[3:]] == [JobState.SUCCEEDED] * 4
    assert await raw.get(rq.queue_keys(queue).part(f"corrupt:{jobs[2].uid}")) == b"x"  # kept to look at


async def _count_active(rq: RedisQ, queue: str, n: int) -> bool:
    return (await rq.stats(queue)).active == n


async def test_enqueue_writes_nothing_when_a_key_it_needs_has_the_wrong_type(
    rq: RedisQ, raw: redis.asyncio.Redis, queue: str
) -> None:
    work, _ = counting_task(rq)
    await work.enqueue(0)  # the queue exists and is registered
    keys = rq.queue_keys(queue)
    before = {k async for k in raw.scan_iter(match=f"{keys.base}job:*")}

    await raw.rename(keys.levels, keys.part("levels-kept"))
    await raw.set(keys.levels, "not a sorted set")
    with pytest.raises(CorruptData, match="levels is a string"):
        await work.enqueue(1)
    with pytest.raises(CorruptData):
        await rq.enqueue_many([work.call(n) for n in range(2, 5)])
    await raw.rename(keys.part("levels-kept"), keys.levels)
    # The list of the level a job goes to (issue 15: one list per priority level).
    await raw.set(keys.ready(7), "not a list")
    with pytest.raises(CorruptData, match="ready:7 is a string"):
        await work.with_options(priority=7).enqueue(1)
    await raw.delete(keys.ready(7))

    # A batch whose third job names a unique key held by a value of another type: no job of it is written.
    await raw.rpush(keys.part("unique:taken"), "x")
    with pytest.raises(CorruptData, match="unique:taken is a list"):
        await rq.enqueue_many(
            [work.call(5), work.call(6), work.with_options(key="taken").call(7), work.call(8)]
        )
    assert {k async for k in raw.scan_iter(match=f"{keys.base}job:*")} == before
    assert (await raw.hget(keys.stats, "enqueued")) == b"1"


async def test_listings_and_actions_pass_over_a_record_that_is_not_a_hash(
    rq: RedisQ, raw: redis.asyncio.Redis, queue: str
) -> None:
    work, _ = counting_task(rq)
    jobs = await rq.enqueue_many([work.call(n) for n in range(3)])
    key = rq.queue_keys(queue).job(jobs[1].uid)
    await _replace(raw, key, "SET", key, "garbage")
    await raw.hset(rq.queue_keys(queue).job(jobs[2].uid), "attempts", "many")

    listed = await rq.jobs(queue, JobState.QUEUED, newest_first=False)
    assert [i.id for i in listed] == [jobs[0].id, jobs[2].id]
    assert listed[1].attempts == 0  # a field that is not a number is shown as its default
    for act in (jobs[1].info, jobs[1].cancel, jobs[1].delete, jobs[1].promote):
        with pytest.raises(JobNotFound):
            await act()
    assert await raw.get(key) == b"garbage"  # nothing was written over it


async def test_requeue_dead_pages_past_dead_letters_that_cannot_run(
    rq: RedisQ, raw: redis.asyncio.Redis
) -> None:
    @rq.task(retries=0)
    async def doomed(n: int) -> None:
        raise RuntimeError(f"job {n} fails")

    queue = doomed.queue
    keys = rq.queue_keys(queue)
    jobs = await rq.enqueue_many([doomed.call(n) for n in range(6)])
    for n in (0, 1, 2):  # buried without a payload: they can never run, so they stay dead
        await raw.hdel(keys.job(jobs[n].uid), "payload", "pn")
    async with running_worker(rq, WIDE):
        await _wait_for(lambda: _settled(rq, queue, 0, 6))
    assert [(await j.info()).error.type for j in jobs] == ["CorruptRecord"] * 3 + ["RuntimeError"] * 3  # type: ignore[union-attr]

    # In pages of two, the first pages hold only dead letters that cannot run: paging goes on past them.
    assert await rq.backend().run(ops.requeue_dead(keys, None, batch=2)) == 3
    s = await rq.stats(queue)
    assert (s.dead, s.queued) == (3, 3)
    assert [(await j.info()).state for j in jobs] == [JobState.DEAD] * 3 + [JobState.QUEUED] * 3


# ---- a damaged queue key ---------------------------------------------------------------------------------

# Keys the scripts check before writing: a refusal writes nothing, the jobs (and the outcomes of those
# that ran) wait for the repair, and nothing runs twice. Hints, written with pcall: a damaged counter or
# wake list stops no job.
REFUSED = ("active", "succeeded")
HINTS = ("stats", "wake")


@pytest.mark.parametrize("part", REFUSED + HINTS)
async def test_a_damaged_queue_key_loses_no_job(
    rq: RedisQ, raw: redis.asyncio.Redis, queue: str, part: str, caplog: pytest.LogCaptureFixture
) -> None:
    work, runs = counting_task(rq)
    key = rq.queue_keys(queue).part(part)
    await raw.set(key, "not mine")
    jobs = await rq.enqueue_many([work.call(n) for n in range(5)])
    settings = dataclasses.replace(WIDE, lease_s=1.0, sweep_every_s=0.2)
    async with running_worker(rq, settings):
        if part in REFUSED:
            await _wait_for(lambda: _logged(caplog, f"{part} is a string"))
            await raw.delete(key)  # the operator repairs it; nothing was lost meanwhile
        await _wait_for(lambda: _all_succeeded(jobs), timeout=20)
    assert runs == Counter(range(5))  # each exactly once
    if part == "stats":  # the damage stopped nothing, and is reported where the counters are read
        with pytest.raises(CorruptData, match="stats is a string"):
            await rq.stats(queue)
    if part == "wake":  # the damage stopped nothing, and a worker that waits on it says so
        assert await _logged(caplog, f"a wake list of {key} is damaged")


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> Awaitable[bool]:
    async def found() -> bool:
        return any(text in r.getMessage() for r in caplog.records)

    return found()


async def _all_succeeded(jobs: list[Job]) -> bool:
    return all([(await j.info()).state is JobState.SUCCEEDED for j in jobs])
