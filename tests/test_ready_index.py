"""The ready index (issue 15): one Redis list per priority level, and `levels`, the zset of the levels
whose list holds jobs, kept exact. Order across levels after a release and a recovery, a cancel in the
middle of a long list, the upgrade of a queue that an older version wrote (the legacy `queued` zset), and
`levels` never holding an empty level. Runs on the Cluster too (conftest ON_CLUSTER_TOO): every read and
write here goes through the client's own (Cluster-aware) connection.
"""

from __future__ import annotations

from typing import Any

import pytest

from redisq import CorruptData, Job, JobState, RedisQ, Task
from redisq.core.keys import QueueKeys
from redisq.core.worker import protocol

PRIORITY_SPAN = 2**40  # the legacy score: -priority * 2^40 + seq
RETENTION = protocol.Retention(100, 3600, 3_600_000, 1000, 3_600_000, 1000)


@pytest.fixture
def noop(rq: RedisQ) -> Task[Any, Any]:
    @rq.task(name="ready.noop")
    async def noop(n: int) -> int:
        return n

    return noop


def _raw(rq: RedisQ) -> Any:
    return rq.backend().client


async def _fetch(rq: RedisQ, queue: str, n: int, lease_ms: int = 60_000) -> list[protocol.Delivery]:
    k = rq.queue_keys(queue)
    _, leased = await rq.backend().run(protocol.fetch(k, rq.now_ms(), n, lease_ms, "w.1.x", 100, 3600))
    return leased


async def _levels(rq: RedisQ, k: QueueKeys, known: set[int]) -> dict[int, int]:
    """{level: its list's length} of `levels`, checked exact against the lists of the `known` levels:
    every level listed has a non-empty list scored -level, every known non-empty list is listed."""
    raw = _raw(rq)
    listed = {int(m): score for m, score in await raw.zrange(k.levels, 0, -1, withscores=True)}
    assert all(score == -level for level, score in listed.items())
    lengths = {level: int(await raw.llen(k.ready(level))) for level in known | set(listed)}
    assert {level for level, n in lengths.items() if n} == set(listed), (lengths, listed)
    return {level: lengths[level] for level in listed}


async def test_order_across_levels_after_a_release_and_a_recovery(
    rq: RedisQ, queue: str, noop: Task[Any, Any]
) -> None:
    low = [await noop.with_options(priority=0).enqueue(n) for n in range(3)]
    high = [await noop.with_options(priority=5).enqueue(n) for n in range(2)]
    below = await noop.with_options(priority=-3).enqueue(0)
    k = rq.queue_keys(queue)
    assert await _levels(rq, k, set()) == {5: 2, 0: 3, -3: 1}

    held = await _fetch(rq, queue, 2)
    assert [d.uid for d in held] == [j.uid for j in high]  # the highest level first, FIFO within it
    lapsing = await _fetch(rq, queue, 1, lease_ms=1)
    assert [d.uid for d in lapsing] == [low[0].uid]
    # Jobs enqueued now go to the back of their levels; the released and the recovered to the front.
    late_high = await noop.with_options(priority=5).enqueue(9)
    late_low = await noop.with_options(priority=0).enqueue(9)
    released = [protocol.Settlement(held[1], "release")]
    await rq.backend().run(protocol.finish({queue: k}, released, rq.now_ms(), 60))
    recovered, _ = await rq.backend().run(protocol.sweep([k], rq.now_ms() + 5, RETENTION))
    assert recovered == 1

    rest = await _fetch(rq, queue, 10)
    expected = [high[1], late_high, low[0], low[1], low[2], late_low, below]
    assert [d.uid for d in rest] == [j.uid for j in expected]
    assert rest[0].attempt == 1  # the release gave its attempt back; the recovery spent one
    assert rest[2].attempt == 2
    assert await _levels(rq, k, {5, 0, -3}) == {}


async def test_a_released_batch_keeps_its_order_at_the_front(
    rq: RedisQ, queue: str, noop: Task[Any, Any]
) -> None:
    jobs = await rq.enqueue_many([noop.call(n) for n in range(5)])
    k = rq.queue_keys(queue)
    first = await _fetch(rq, queue, 3)
    release = [protocol.Settlement(d, "release") for d in first]
    await rq.backend().run(protocol.finish({queue: k}, release, rq.now_ms(), 60))
    again = await _fetch(rq, queue, 3, lease_ms=1)
    assert [d.uid for d in again] == [j.uid for j in jobs[:3]]
    # A recovered batch goes to the front too, in the order its leases lapsed: one fetch's leases lapse
    # together, so their order among themselves is not known (`active` sorts them by uid then).
    recovered, _ = await rq.backend().run(protocol.sweep([k], rq.now_ms() + 5, RETENTION))
    assert recovered == 3
    last = await _fetch(rq, queue, 5)
    assert {d.uid for d in last[:3]} == {j.uid for j in jobs[:3]}
    assert [d.uid for d in last[3:]] == [j.uid for j in jobs[3:]]


async def test_cancel_delete_and_abort_in_the_middle_of_a_long_list(
    rq: RedisQ, queue: str, noop: Task[Any, Any]
) -> None:
    jobs = await rq.enqueue_many([noop.call(n) for n in range(3000)])
    k = rq.queue_keys(queue)
    gone = {jobs[1500].uid, jobs[10].uid, jobs[2990].uid}
    assert await jobs[1500].cancel()
    assert await jobs[10].delete()
    assert await jobs[2990].abort()
    assert not await jobs[1500].cancel()  # once
    assert (await rq.stats(queue)).queued == 2997
    assert await _levels(rq, k, {0}) == {0: 2997}
    assert (await jobs[1500].info()).state is JobState.CANCELLED

    taken: list[str] = []
    while batch := await _fetch(rq, queue, 500):
        taken += [d.uid for d in batch]
    assert taken == [j.uid for j in jobs if j.uid not in gone]
    assert await _levels(rq, k, {0}) == {}


async def test_levels_never_hold_an_empty_level(rq: RedisQ, queue: str, noop: Task[Any, Any]) -> None:
    k = rq.queue_keys(queue)
    known = {9, 4, 1, 2, -1}
    cancelled = await noop.with_options(priority=9).enqueue(0)
    assert await _levels(rq, k, known) == {9: 1}
    assert await cancelled.cancel()
    assert await _levels(rq, k, known) == {}

    deleted = await noop.with_options(priority=-1).enqueue(0)
    assert await deleted.delete()
    assert await _levels(rq, k, known) == {}

    await noop.with_options(priority=4).enqueue(0)
    assert len(await _fetch(rq, queue, 5)) == 1
    assert await _levels(rq, k, known) == {}

    await rq.enqueue_many([noop.with_options(priority=p).call(n) for p in (1, 2) for n in range(1500)])
    assert await _levels(rq, k, known) == {2: 1500, 1: 1500}
    assert await rq.purge(queue, JobState.QUEUED) == 3000
    assert await _levels(rq, k, known) == {}
    assert (await rq.stats(queue)).queued == 0


async def test_listing_pages_run_across_levels(rq: RedisQ, queue: str, noop: Task[Any, Any]) -> None:
    jobs = [await noop.with_options(priority=p).enqueue(n) for p in (0, 7, -2) for n in range(4)]
    line = [j.uid for j in jobs[4:8] + jobs[0:4] + jobs[8:12]]  # 7, then 0, then -2
    oldest = await rq.jobs(queue, JobState.QUEUED, offset=3, limit=6, newest_first=False)
    assert [i.id for i in oldest] == [f"{queue}:{uid}" for uid in line[3:9]]
    newest = await rq.jobs(queue, JobState.QUEUED, offset=2, limit=5, newest_first=True)
    assert [i.id for i in newest] == [f"{queue}:{uid}" for uid in line[::-1][2:7]]
    one_level = await rq.jobs(queue, JobState.QUEUED, offset=0, limit=2, newest_first=True)
    assert len(one_level) == 2


async def _legacy(rq: RedisQ, queue: str, jobs: list[Job[Any]], priorities: list[int]) -> None:
    """Rewrite the queue as the version before issue 15 left it: its queued jobs in the zset `queued`,
    scored -priority * 2^40 + seq, the counter `seq`, and no ready lists."""
    k, raw = rq.queue_keys(queue), _raw(rq)
    for level in set(priorities):
        await raw.delete(k.ready(level))
    await raw.delete(k.levels)
    pairs = zip(jobs, priorities, strict=True)
    scores = {j.uid: -p * PRIORITY_SPAN + seq for seq, (j, p) in enumerate(pairs)}
    for start in range(0, len(jobs), 1000):
        await raw.zadd(k.queued, dict(list(scores.items())[start : start + 1000]))
    await raw.set(k.part("seq"), len(jobs))


async def test_a_queue_written_by_the_previous_version_runs_its_jobs_in_their_order(
    rq: RedisQ, queue: str, noop: Task[Any, Any]
) -> None:
    priorities = [3 if n % 3 == 0 else 0 for n in range(4500)]  # more than one batch of the upgrade
    jobs = await rq.enqueue_many([noop.with_options(priority=p).call(n) for n, p in enumerate(priorities)])
    await _legacy(rq, queue, jobs, priorities)
    k, raw = rq.queue_keys(queue), _raw(rq)
    # Jobs enqueued by the new version before any fetch go behind the old ones of their level.
    late = [await noop.with_options(priority=p).enqueue(-1) for p in (0, 3)]
    assert (await rq.stats(queue)).queued == 4502  # counted before the upgrade too
    assert len(await rq.jobs(queue, JobState.QUEUED, limit=10)) == 10
    assert await jobs[1].cancel()  # a legacy job can be cancelled before it moves

    taken: list[str] = []
    for _ in range(100):
        batch = await _fetch(rq, queue, 700)
        taken += [d.uid for d in batch]
        if len(taken) == 4501:
            break
    by_level = list(zip(jobs, priorities, strict=True))
    high = [j.uid for j, p in by_level if p == 3] + [late[1].uid]
    low = [j.uid for j, p in by_level if p == 0 and j is not jobs[1]] + [late[0].uid]
    assert taken == high + low
    assert not await raw.exists(k.queued, k.part("seq"))
    assert await _levels(rq, k, {0, 3}) == {}


async def test_a_sweep_upgrades_a_queue_that_no_worker_fetches(
    rq: RedisQ, queue: str, noop: Task[Any, Any]
) -> None:
    jobs = await rq.enqueue_many([noop.with_options(priority=p).call(p) for p in (0, 2, 0, -1)])
    await _legacy(rq, queue, jobs, [0, 2, 0, -1])
    k = rq.queue_keys(queue)
    await rq.backend().run(protocol.sweep([k], rq.now_ms(), RETENTION))
    assert not await _raw(rq).exists(k.queued)
    assert await _levels(rq, k, {0, 2, -1}) == {2: 1, 0: 2, -1: 1}
    assert [d.uid for d in await _fetch(rq, queue, 9)] == [jobs[i].uid for i in (1, 0, 2, 3)]


async def test_a_damaged_legacy_index_is_reported_before_anything_moves(
    rq: RedisQ, queue: str, noop: Task[Any, Any]
) -> None:
    await noop.enqueue(0)
    k = rq.queue_keys(queue)
    await _raw(rq).set(k.queued, "not a sorted set")
    with pytest.raises(CorruptData, match="queued is a string"):
        await _fetch(rq, queue, 1)
    assert await _levels(rq, k, {0}) == {0: 1}


async def test_parked_jobs_go_back_to_the_front_of_their_level_in_their_order(rq: RedisQ, queue: str) -> None:
    @rq.task(max_concurrency=2, priority=3)
    async def capped(n: int) -> None: ...

    @rq.task
    async def free(n: int) -> None: ...

    limited = [await capped.enqueue(n) for n in range(5)]
    first = await free.enqueue(0)
    k = rq.queue_keys(queue)
    taken = await _fetch(rq, queue, 10)
    assert [d.uid for d in taken] == [limited[0].uid, limited[1].uid, first.uid]  # 2..4 set aside
    assert (await rq.stats(queue)).limited == 3
    later_free, later_capped = await free.enqueue(1), await capped.enqueue(9)
    done = [protocol.Settlement(d, "ok", b"null") for d in taken[:2]]
    await rq.backend().run(protocol.finish({queue: k}, done, rq.now_ms(), 60))

    again = await _fetch(rq, queue, 10)  # the limit has room for two: the first two set aside come back
    assert [d.uid for d in again] == [limited[2].uid, limited[3].uid, later_free.uid]
    assert (await rq.stats(queue)).limited == 2  # limited[4], and the late one parked behind it
    listed = await rq.jobs(queue, JobState.QUEUED, limit=10, newest_first=False)
    assert [i.id for i in listed] == [limited[4].id, later_capped.id]
    assert await _levels(rq, k, {3, 0}) == {}


async def test_a_damaged_level_list_fails_the_fetch_before_anything_is_taken(
    rq: RedisQ, queue: str, noop: Task[Any, Any]
) -> None:
    high = await noop.with_options(priority=5).enqueue(0)
    await noop.enqueue(1)
    k = rq.queue_keys(queue)
    await _raw(rq).delete(k.ready(0))
    await _raw(rq).set(k.ready(0), "not a list")
    with pytest.raises(CorruptData, match="ready:0 is a string"):
        await _fetch(rq, queue, 2)  # the level-5 job was read first: it must not be leased
    assert (await high.info()).state is JobState.QUEUED
    assert await _raw(rq).llen(k.ready(5)) == 1
    assert await _raw(rq).zcard(k.active) == 0
    with pytest.raises(CorruptData, match="ready:0 is a string"):
        await rq.stats(queue)  # no count here would be true
