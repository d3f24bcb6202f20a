"""taskiq's broker (taskiq-redis RedisStreamBroker, the one its README shows: acknowledged deliveries):
`taskiq worker benchmarks.peers.taskiq_tasks:broker`. No result backend."""

from __future__ import annotations

import os

from taskiq_redis import RedisStreamBroker

from . import body

broker = RedisStreamBroker(url=os.environ["BENCH_REDIS_URL"])


@broker.task(task_name="bench.noop")
async def noop(index: int, enqueued_at: float = 0.0) -> None:
    await body.run(index, enqueued_at)
