"""Admin actions on one job or one queue: pause/resume, delete, promote, retry, enqueue by name."""

from __future__ import annotations

import asyncio

import pytest

from redisq import Backoff, InvalidArguments, JobNotFound, JobState, RedisQ, TaskNotFound

from .conftest import running_worker
from .test_admin import wait_for


async def test_a_paused_queue_hands_out_nothing_until_resumed(rq: RedisQ, queue: str) -> None:
    ran: list[int] = []

    @rq.task
    async def record(n: int) -> None:
        ran.append(n)

    await rq.pause(queue)
    assert (await rq.stats(queue)).paused
    async with running_worker(rq):
        await rq.enqueue_many([record.call(n) for n in range(5)])
        await asyncio.sleep(1.0)  # two idle waits of the worker
        assert ran == []
        assert (await rq.stats(queue)).queued == 5
        await rq.resume(queue)
        started = asyncio.get_running_loop().time()

        async def all_ran() -> bool:
            return len(ran) == 5

        await wait_for(all_ran, timeout=5)
        # Resume wakes the idle worker: no waiting for its next periodic check (0.5 s in these tests).
        assert asyncio.get_running_loop().time() - started < 0.4
    assert not (await rq.stats(queue)).paused


async def test_delete_removes_a_waiting_job_and_frees_its_unique_key(rq: RedisQ, queue: str) -> None:
    @rq.task(unique=True)
    async def once(n: int) -> None: ...

    first = await once.enqueue(1)
    assert not (await once.enqueue(1)).created
    assert await first.delete()
    with pytest.raises(JobNotFound):
        await first.info()
    assert (await rq.stats(queue)).queued == 0
    assert (await once.enqueue(1)).created  # the key went with the job
    with pytest.raises(JobNotFound):
        await first.delete()


async def test_delete_refuses_a_running_job(rq: RedisQ) -> None:
    release = asyncio.Event()

    @rq.task
    async def slow() -> None:
        await release.wait()

    job = await slow.enqueue()
    async with running_worker(rq):

        async def running() -> bool:
            return (await job.info()).state is JobState.ACTIVE

        await wait_for(running)
        assert not await job.delete()

        async def in_heartbeat() -> bool:  # workers name the jobs they run (the dashboard shows them)
            return any(job.id in [j.id for j in w.jobs] for w in (await rq.health()).workers)

        await wait_for(in_heartbeat)
        release.set()
        await job.result(timeout=5)
    assert await job.delete()  # finished: its record can go


async def test_promote_runs_a_delayed_job_now(rq: RedisQ) -> None:
    @rq.task
    async def later() -> str:
        return "done"

    job = await later.with_options(delay_s=3600).enqueue()
    queued = await later.enqueue()
    assert not await queued.promote()  # not scheduled
    assert await job.promote()
    assert (await job.info()).state is JobState.QUEUED
    async with running_worker(rq):
        assert await job.result(timeout=5) == "done"


async def test_retry_a_dead_job_or_one_waiting_for_its_next_attempt(rq: RedisQ) -> None:
    fail = {"dead", "waiting"}

    @rq.task(retries=0)
    async def once(kind: str) -> str:
        if kind in fail:
            raise RuntimeError(kind)
        return kind

    @rq.task(retries=1, backoff=Backoff(kind="fixed", base_s=3600, jitter=False))
    async def patient(kind: str) -> str:
        if kind in fail:
            raise RuntimeError(kind)
        return kind

    dead = await once.enqueue("dead")
    waiting = await patient.enqueue("waiting")
    async with running_worker(rq):

        async def failed_once() -> bool:
            return (await dead.info()).state is JobState.DEAD and (
                await waiting.info()
            ).state is JobState.SCHEDULED

        await wait_for(failed_once)
        fail.clear()
        assert await dead.retry()
        assert await waiting.retry()
        assert await dead.result(timeout=5) == "dead"
        assert await waiting.result(timeout=5) == "waiting"
        assert not await dead.retry()  # succeeded: nothing to retry


async def test_enqueue_by_name_checks_arguments_first(rq: RedisQ, queue: str) -> None:
    @rq.task(name="reports.build")
    async def build(report_id: int, pages: list[int] | None = None) -> int:
        return report_id

    spec = rq.call_by_name("reports.build", [7], {"pages": [1, 2]})
    job = (await rq.enqueue_many([spec]))[0]
    assert (await job.info()).args == [7]
    with pytest.raises(InvalidArguments, match=r"reports\.build"):
        rq.call_by_name("reports.build", [], {"nope": 1})
    with pytest.raises(InvalidArguments):
        rq.call_by_name("reports.build", [1, 2, 3])
    with pytest.raises(TaskNotFound):
        rq.call_by_name("reports.missing", [1])
    assert (await rq.stats(queue)).queued == 1


async def test_a_running_task_reports_progress(rq: RedisQ) -> None:
    halfway, finish = asyncio.Event(), asyncio.Event()

    @rq.task
    async def resize(images: int) -> int:
        await rq.set_progress(0.5, f"resized {images // 2} of {images}")
        halfway.set()
        await finish.wait()
        return images

    @rq.task
    def convert() -> None:
        rq.set_progress_sync(1.0, "converted")

    job = await resize.enqueue(6)
    converted = await convert.enqueue()
    async with running_worker(rq):
        await asyncio.wait_for(halfway.wait(), 5)
        assert (await job.info()).progress == {"value": 0.5, "note": "resized 3 of 6"}
        finish.set()
        assert await job.result(timeout=5) == 6
        await converted.result(timeout=5)
    assert (await converted.info()).progress == {"value": 1.0, "note": "converted"}
    with pytest.raises(RuntimeError, match="inside a running task"):
        await rq.set_progress(0.1)


async def test_progress_outside_zero_to_one_is_refused(rq: RedisQ) -> None:
    errors: list[BaseException] = []

    @rq.task
    async def bad() -> None:
        try:
            await rq.set_progress(1.5)
        except ValueError as exc:
            errors.append(exc)

    job = await bad.enqueue()
    async with running_worker(rq):
        await job.result(timeout=5)
    assert len(errors) == 1 and (await job.info()).progress is None


async def test_enqueue_by_name_refuses_json_of_the_wrong_plain_type(rq: RedisQ) -> None:
    @rq.task(name="reports.typed")
    async def typed(report_id: int, ratio: float, title: str | None = None, draft: bool = False) -> None: ...

    rq.call_by_name("reports.typed", [7, 3], {"title": None, "draft": True})  # 3 is a fine float
    for args, kwargs in (
        (["seven", 1.0], {}),
        ([True, 1.0], {}),  # a bool is not an int here
        ([7, "1.0"], {}),
        ([7, 1.0], {"title": 5}),
        ([7, 1.0], {"draft": "yes"}),
        ([7, 1.0], {"self": 1}),
    ):
        with pytest.raises(InvalidArguments):
            rq.call_by_name("reports.typed", args, kwargs)


async def test_enqueue_by_name_takes_per_call_options(rq: RedisQ, queue: str) -> None:
    @rq.task(name="reports.later")
    async def later(report_id: int) -> None: ...

    other = f"{queue}-other"
    job = (await rq.enqueue_many([rq.call_by_name("reports.later", [1], queue=other, delay_s=60)]))[0]
    info = await job.info()
    assert (job.queue, info.state) == (other, JobState.SCHEDULED)
