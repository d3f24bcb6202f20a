"""An app module for `redisq worker --burst` tests, configured from the environment (REDISQ_*)."""

from __future__ import annotations

import asyncio
import time

from redisq import RedisQ

rq = RedisQ()


@rq.task(name="burst.square")
async def square(n: int) -> int:
    await asyncio.sleep(0.01)
    return n * n


@rq.task(name="burst.cube")
def cube(n: int) -> int:
    time.sleep(0.01)
    return n**3
