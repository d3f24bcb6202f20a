"""An app for the limit tests' worker processes: `redisq worker tests.limitapp:app`.

The environment gives the Redis URL (REDISQ_URL), the test's key prefix (FAULT_PREFIX) and queue
(FAULT_QUEUE), as for tests/faultapp.py. Tasks record what the test measures in Redis, with a plain
client:

    <prefix>:rated:starts     a list of start times (epoch seconds) of `limit.rated` jobs
    <prefix>:capped:running   how many `limit.capped` jobs run now, across every worker process
    <prefix>:capped:seen      a list of that count as each job began
"""

from __future__ import annotations

import asyncio
import os
import time

import redis.asyncio

from redisq import RedisQ

RATE = "50/s"
CAP = 2


def build(url: str, prefix: str, queue: str) -> RedisQ:
    rq = RedisQ(url, prefix=prefix, default_queue=queue)
    clients: dict[int, redis.asyncio.Redis] = {}

    def raw() -> redis.asyncio.Redis:
        loop = id(asyncio.get_running_loop())
        if loop not in clients:
            clients[loop] = redis.asyncio.Redis.from_url(url)
        return clients[loop]

    @rq.task(name="limit.rated", rate_limit=RATE)
    async def rated(n: int) -> None:
        await raw().rpush(f"{prefix}:rated:starts", repr(time.time()))

    @rq.task(name="limit.capped", max_concurrency=CAP)
    async def capped(n: int, sleep_s: float) -> None:
        r = raw()
        now = await r.incr(f"{prefix}:capped:running")
        await r.rpush(f"{prefix}:capped:seen", now)
        try:
            await asyncio.sleep(sleep_s)
        finally:
            await r.decr(f"{prefix}:capped:running")

    return rq


def app() -> RedisQ:
    return build(os.environ["REDISQ_URL"], os.environ["FAULT_PREFIX"], os.environ["FAULT_QUEUE"])
