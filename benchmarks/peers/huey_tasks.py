"""huey's RedisHuey: `huey_consumer benchmarks.peers.huey_tasks.huey`."""

from __future__ import annotations

import os

from huey import RedisHuey

from .base import QUEUE
from .record import record

huey = RedisHuey(QUEUE, url=os.environ["BENCH_REDIS_URL"])


@huey.task(name="bench.noop")
def noop(index: int, enqueued_at: float = 0.0) -> None:
    record(index, enqueued_at)
