"""An app for `redisq worker --processes N` tests: short async jobs that say which process ran them."""

from __future__ import annotations

import asyncio
import os

from redisq import RedisQ

rq = RedisQ(default_queue=os.environ.get("CLI_QUEUE", "default"))


@rq.task(name="sup.nap", retries=0)
async def nap(ms: int) -> int:
    await asyncio.sleep(ms / 1000)
    return os.getpid()
