"""The tasks that benchmark workers run. Configured from the environment, like a deployed app."""

from __future__ import annotations

import os
import time

import redis

from redisq import RedisQ

rq = RedisQ(prefix=os.environ.get("BENCH_PREFIX", "bench"), default_queue="bench")
_probe: redis.Redis | None = None


@rq.task(name="bench.noop_async")
async def noop_async() -> None:
    return None


@rq.task(name="bench.noop_sync")
def noop_sync() -> None:
    return None


@rq.task(name="bench.latency")
async def latency(enqueued_at: float) -> None:
    global _probe  # one connection per worker process, made on first use
    started = time.time()
    if _probe is None:
        _probe = redis.Redis.from_url(rq.url)
    _probe.rpush(f"{rq.settings.prefix}:latency", started - enqueued_at)
