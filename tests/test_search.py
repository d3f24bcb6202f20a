"""Searching a state's index and bulk actions in the core (issue 17): `rq.search_jobs`, `rq.bulk`,
`rq.bulk_matching`. Each filter exactly (text in a task's name or in the meta is not in its arguments), a
bounded walk that says where to go on and finds the rest from there, the queued index walked across its
priority levels, payloads kept in pieces, and bulk actions that report every job they skip. Runs on the
Cluster too (conftest ON_CLUSTER_TOO): a queue's scripts and pipelines go to its node."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from redisq import CorruptData, JobFailed, JobState, RedisQ, Task
from redisq.core import context
from redisq.core.bulk import BulkOutcome
from redisq.core.search import SCAN_BATCH, JobFilter
from redisq.core.worker import protocol

from .conftest import running_worker


@pytest.fixture
def mail(rq: RedisQ) -> Task[Any, Any]:
    @rq.task(name="mail.send", retries=0)
    async def send(to: str, subject: str = "", body: str = "") -> None:
        if to.startswith("bounce"):
            raise ConnectionRefusedError(f"{to} refused the mail")
        if to.startswith("bad"):
            raise ValueError(f"bad address {to}")

    return send


@pytest.fixture
def report(rq: RedisQ) -> Task[Any, Any]:
    @rq.task(name="report.build", retries=0)
    async def build(n: int, request_id: str = "") -> None:
        raise RuntimeError("report failed")

    return build


async def _uids(rq: RedisQ, queue: str, state: JobState, job_filter: JobFilter, **options: Any) -> list[str]:
    page = await rq.search_jobs(queue, state, job_filter, **options)
    return [info.id.rpartition(":")[2] for info in page.jobs]


async def _until_dead(rq: RedisQ, queue: str, n: int) -> None:
    async with running_worker(rq):
        for _ in range(600):
            if (await rq.stats(queue)).dead >= n:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{n} jobs did not all die")


async def test_each_filter_matches_exactly(
    rq: RedisQ, queue: str, mail: Task[Any, Any], report: Task[Any, Any]
) -> None:
    token = context.request_id.set("req-7")
    try:
        from_request = await mail.enqueue("ann@example.com", subject="Hi")
    finally:
        context.request_id.reset(token)
    named_like_the_request = await report.enqueue(1, request_id="req-7")  # a kwarg, not the meta
    in_kwargs = await mail.enqueue("bob@example.com", subject="Invoice 12")
    other = await report.enqueue(2)
    everyone = [from_request, named_like_the_request, in_kwargs, other]

    async def found(**fields: Any) -> set[str]:
        return set(await _uids(rq, queue, JobState.QUEUED, JobFilter(**fields)))

    assert await found(task="mail.send") == {from_request.uid, in_kwargs.uid}
    assert await found(task="mail") == set()  # a name, not a prefix
    assert await found(request_id="req-7") == {from_request.uid}
    assert await found(args_contain="Invoice 12") == {in_kwargs.uid}
    assert await found(args_contain='"subject":"Hi"') == {from_request.uid}  # the JSON as stored
    assert await found(args_contain="mail.send") == set()  # the task's name is no argument
    assert await found(args_contain="req-7") == {named_like_the_request.uid}  # not the meta's request id
    assert await found(args_contain="@example.com", task="mail.send") == {from_request.uid, in_kwargs.uid}
    assert await found(args_contain="@example.com", request_id="req-7") == {from_request.uid}
    assert await found() == {job.uid for job in everyone}
    page = await rq.search_jobs(queue, JobState.QUEUED, JobFilter(task="mail.send"))
    assert (page.searched, page.total, page.next_offset) == (4, 4, None)
    assert [info.task for info in page.jobs] == ["mail.send"] * 2 and page.jobs[0].kwargs == {
        "subject": "Invoice 12"
    }


async def test_error_type_and_times_of_dead_jobs(
    rq: RedisQ, queue: str, mail: Task[Any, Any], report: Task[Any, Any]
) -> None:
    base = rq.now_ms()
    async with running_worker(rq):
        for minute in range(4):  # deaths a minute apart on the client's clock, which the worker uses too
            rq.clock_offset_ms = minute * 60_000
            jobs = [await mail.enqueue(f"bounce{minute}@x.io"), await mail.enqueue(f"bad{minute}@x.io")]
            for job in jobs:
                with pytest.raises(JobFailed):
                    await job.result(timeout=10)
        rq.clock_offset_ms = 0
    refused = set(await _uids(rq, queue, JobState.DEAD, JobFilter(error_type="ConnectionRefusedError")))
    assert len(refused) == 4
    for info in (await rq.search_jobs(queue, JobState.DEAD, JobFilter(error_type="ValueError"))).jobs:
        assert info.error is not None and info.error.type == "ValueError"
    assert not await _uids(rq, queue, JobState.DEAD, JobFilter(error_type="Error"))  # the type, exactly
    # since <= death < until, on the dead index's own order: the entries outside are never looked at.
    window = JobFilter(since_ms=base + 60_000, until_ms=base + 180_000)
    page = await rq.search_jobs(queue, JobState.DEAD, window)
    assert (len(page.jobs), page.searched, page.total) == (4, 4, 8)
    assert {info.args[0][-6:] for info in page.jobs} == {"1@x.io", "2@x.io"} and page.next_offset is None
    late = JobFilter(since_ms=base + 180_000, error_type="ValueError")
    assert [info.args[0] for info in (await rq.search_jobs(queue, JobState.DEAD, late)).jobs] == ["bad3@x.io"]


async def test_a_bounded_search_says_where_to_go_on_and_finds_the_rest(
    rq: RedisQ, queue: str, mail: Task[Any, Any]
) -> None:
    specs = [mail.call(f"user{i}@example.com", subject=f"n{i}") for i in range(1_200)]
    jobs = await rq.enqueue_many(specs)
    needle = JobFilter(args_contain='"subject":"n7')  # n7, n70..n79, n700..n799: 111 jobs
    expected = [job.uid for i, job in enumerate(jobs) if str(i).startswith("7")]
    for newest_first in (True, False):
        seen: list[str] = []
        offset: int | None = 0
        walks = 0
        while offset is not None:
            page = await rq.search_jobs(
                queue,
                JobState.QUEUED,
                needle,
                offset=offset,
                limit=500,
                newest_first=newest_first,
                max_examined=300,
            )
            assert page.searched <= 300 and page.total == 1_200
            seen += [info.id.rpartition(":")[2] for info in page.jobs]
            offset = page.next_offset
            walks += 1
        assert walks == 4  # 1,200 entries, 300 a call
        assert seen == (expected[::-1] if newest_first else expected)
    # A page that fills first says so: it goes on after its last match.
    first = await rq.search_jobs(queue, JobState.QUEUED, needle, limit=10, newest_first=False)
    assert [info.id for info in first.jobs] == [jobs[i].id for i in (7, 70, 71, 72, 73, 74, 75, 76, 77, 78)]
    assert first.searched == first.next_offset == 79
    assert first.searched < SCAN_BATCH  # one script call found them


async def test_the_queued_index_is_walked_across_levels_and_parked_jobs_in_line_order(
    rq: RedisQ, queue: str
) -> None:
    @rq.task(name="limited.job", max_concurrency=1, limit_key=lambda n: "one")
    async def limited(n: int) -> None: ...

    @rq.task(name="plain.job")
    async def plain(n: int) -> None: ...

    await rq.enqueue_many([limited.call(i) for i in range(3)])
    k = rq.queue_keys(queue)  # a fetch leases one and parks the two its limit has no room for
    await rq.backend().run(protocol.fetch(k, rq.now_ms(), 3, 60_000, "w.1.x", 100, 3600))
    await rq.enqueue_many([plain.with_options(priority=p).call(i) for p in (-5, 5) for i in range(3)])
    stats = await rq.stats(queue)
    assert (stats.queued, stats.limited) == (6, 2)
    line = [info.id for info in await rq.jobs(queue, JobState.QUEUED, 0, 50, newest_first=False)]
    assert len(line) == 8  # level 5, level -5, then the parked jobs: the listing's order
    every = JobFilter(args_contain="[")  # every job: its args are a JSON array
    for newest_first in (False, True):
        walked: list[str] = []
        offset: int | None = 0
        while offset is not None:  # 3 entries a call: each call ends inside a part, or crosses one
            found = await rq.search_jobs(
                queue, JobState.QUEUED, every, offset=offset, newest_first=newest_first, max_examined=3
            )
            walked += [info.id for info in found.jobs]
            offset = found.next_offset
        assert walked == (line[::-1] if newest_first else line)


async def test_payloads_in_pieces_and_whole_are_searched(rq: RedisQ, queue: str) -> None:
    @rq.task(name="p")
    async def p(text: str) -> None: ...

    short, three, many = (
        await p.enqueue("tiny"),
        await p.enqueue("m" * 120 + "mid"),
        await p.enqueue("x" * 900 + "end!"),
    )
    assert await _uids(rq, queue, JobState.QUEUED, JobFilter(args_contain="tiny")) == [short.uid]
    assert await _uids(rq, queue, JobState.QUEUED, JobFilter(args_contain="mmid")) == [three.uid]
    assert await _uids(rq, queue, JobState.QUEUED, JobFilter(args_contain="xend!")) == [many.uid]
    assert len(await _uids(rq, queue, JobState.QUEUED, JobFilter(task="p"))) == 3


async def test_a_damaged_index_is_reported_not_searched(rq: RedisQ, queue: str) -> None:
    await rq.backend().client.set(rq.queue_keys(queue).dead, "not a zset")
    with pytest.raises(CorruptData, match="another type"):
        await rq.search_jobs(queue, JobState.DEAD, JobFilter(task="x"))


async def test_bulk_actions_report_every_job_they_skip(rq: RedisQ, queue: str, mail: Task[Any, Any]) -> None:
    dead = await rq.enqueue_many([mail.call(f"bad{i}@x.io") for i in range(3)])
    await _until_dead(rq, queue, 3)
    waiting = await mail.with_options(delay_s=3600).enqueue("later@x.io")
    queued = await mail.enqueue("now@x.io")
    gone = await mail.enqueue("gone@x.io")
    await gone.delete()
    ids = [dead[0].id, dead[1].id, waiting.id, queued.id, gone.id]
    assert await rq.bulk(queue, "requeue", [dead[0].id, waiting.id, gone.id, dead[0].id]) == BulkOutcome(
        1, {"not_dead": 1, "gone": 1}
    )
    assert await rq.bulk(queue, "retry", ids) == BulkOutcome(2, {"not_retryable": 2, "gone": 1})
    assert (await waiting.info()).state is JobState.QUEUED  # retry runs a scheduled job now
    assert await rq.bulk(queue, "cancel", [dead[2].id, queued.id, gone.id]) == BulkOutcome(
        1, {"not_cancellable": 1, "gone": 1}
    )
    assert await rq.bulk(queue, "delete", [dead[2].id, gone.id]) == BulkOutcome(1, {"gone": 1})
    assert (await rq.stats(queue)).dead == 0


async def test_bulk_on_what_a_filter_matches_goes_batch_by_batch_and_leaves_the_rest(
    rq: RedisQ, queue: str, mail: Task[Any, Any], report: Task[Any, Any]
) -> None:
    await rq.enqueue_many(
        [mail.call(f"bad{i}@x.io") for i in range(150)] + [report.call(i) for i in range(90)]
    )
    await _until_dead(rq, queue, 240)
    wanted = JobFilter(task="mail.send", args_contain="@x.io")
    counted, cursor = 0, None
    while True:  # a dry run counts, touching nothing
        batch = await rq.bulk_matching(
            queue, "requeue", JobState.DEAD, wanted, cursor=cursor, max_examined=100, dry_run=True
        )
        counted += batch.matched
        cursor = batch.next_cursor
        if cursor is None:
            break
    assert counted == 150 and (await rq.stats(queue)).dead == 240
    await rq.pause(queue)  # requeued jobs stay queued, to be counted
    done, batches, cursor = 0, 0, None
    while True:
        batch = await rq.bulk_matching(
            queue, "requeue", JobState.DEAD, wanted, cursor=cursor, batch=40, max_examined=100
        )
        assert batch.outcome.skipped == {} and batch.matched == batch.outcome.done <= 40
        done += batch.outcome.done
        batches += 1
        cursor = batch.next_cursor
        if cursor is None:
            break
    assert done == 150 and batches >= 4
    stats = await rq.stats(queue)
    assert (stats.dead, stats.queued) == (90, 150)
    left = await rq.search_jobs(queue, JobState.DEAD, JobFilter(), limit=500)
    assert {info.task for info in left.jobs} == {"report.build"} and len(left.jobs) == 90
