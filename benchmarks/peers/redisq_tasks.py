"""redisq's worker-side tasks module: `redisq worker benchmarks.peers.redisq_tasks:rq`.

BENCH_REDISQ_SYNC=1 registers the no-op as a plain `def` (run in the worker's thread pool) under the same
name, so that the producer does not change.
"""

from __future__ import annotations

import os

from redisq import RedisQ

from . import body
from .base import QUEUE

rq = RedisQ(os.environ["BENCH_REDIS_URL"], prefix="bench", default_queue=QUEUE)

if os.environ.get("BENCH_REDISQ_SYNC") == "1":

    @rq.task(name="bench.noop")
    def noop(index: int, enqueued_at: float = 0.0) -> None:
        body.run_sync(index, enqueued_at)

else:

    @rq.task(name="bench.noop")
    async def noop(index: int, enqueued_at: float = 0.0) -> None:
        await body.run(index, enqueued_at)
