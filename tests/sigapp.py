"""An app for signal tests: long async jobs that record when they start."""

from __future__ import annotations

import asyncio
import os

from redisq import RedisQ

rq = RedisQ(prefix=os.environ["SIG_PREFIX"], default_queue=os.environ["SIG_QUEUE"])


@rq.task(name="sig.long")
async def long(seconds: float) -> str:
    client = rq.backend().client
    await client.incr(f"{rq.settings.prefix}:started")
    await asyncio.sleep(seconds)
    return "finished"
