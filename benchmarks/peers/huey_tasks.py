"""huey's RedisHuey: `huey_consumer benchmarks.peers.huey_tasks.huey`."""

from __future__ import annotations

import os

from huey import RedisHuey

from . import body
from .base import QUEUE

huey = RedisHuey(QUEUE, url=os.environ["BENCH_REDIS_URL"])


@huey.task(name="bench.noop")
def noop(index: int, enqueued_at: float = 0.0) -> None:
    body.run_sync(index, enqueued_at)
