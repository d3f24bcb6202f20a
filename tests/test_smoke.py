from __future__ import annotations

from redisq import JobState, RedisQ

from .conftest import running_worker


async def test_async_and_sync_tasks_run_and_return_results(rq: RedisQ) -> None:
    @rq.task
    async def add(a: int, b: int) -> int:
        return a + b

    @rq.task
    def mul(a: int, b: int) -> int:
        return a * b

    j1 = await add.enqueue(2, 3)
    j2 = await mul.enqueue(4, 5)
    assert (await j1.info()).state is JobState.QUEUED
    async with running_worker(rq):
        assert await j1.result(timeout=5) == 5
        assert await j2.result(timeout=5) == 20
    info = await j1.info()
    assert info.state is JobState.SUCCEEDED
    assert info.attempts == 1
    stats = await rq.stats(rq.settings.default_queue)
    assert stats.succeeded == 2
    assert stats.queued == stats.active == 0
