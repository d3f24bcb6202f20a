"""What the metrics over time cost (issue 17): Redis memory after 24 h of simulated minutes, and the server
time that the finish script spends on them.

    python -m benchmarks.metrics_memory                   # 20 tasks x 1,440 minutes: ~1 min
    python -m benchmarks.metrics_memory --tasks 5 --minutes 120

An in-process `Worker` on a throwaway server runs, for each simulated minute, one job of each task, then
the client's clock moves a minute on (`redisq.testing.advance`: the worker and the scripts run on it, so
every minute writes its own records, as a day of real traffic would). Memory is `MEMORY USAGE` summed
over the metrics records (job records are not counted); the 72 h figure extrapolates the minute records
(x3) and adds 30 days of hour records, as kept, for the queue and every task. Server time: BITFIELD's
calls per job and µs per call (`INFO commandstats`), what the finish script adds for them.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import redis

from redisq import RedisQ
from redisq.core.config import WorkerSettings
from redisq.core.worker.worker import Worker
from redisq.testing import advance

from .harness import server

QUEUE = "metrics"


async def simulate(url: str, tasks: int, minutes: int) -> dict[str, Any]:
    rq = RedisQ(url, prefix="mbench", default_queue=QUEUE)
    calls = []
    for i in range(tasks):

        async def body(n: int) -> int:
            return n

        calls.append(rq.task(name=f"bench.task_{i:02d}")(body))
    r = redis.Redis.from_url(url)
    stats = rq.queue_keys(QUEUE).stats
    worker = Worker(rq, [QUEUE], settings=WorkerSettings(concurrency=tasks))
    running = asyncio.create_task(worker.run())
    started = time.monotonic()
    done = 0
    try:
        for minute in range(minutes):
            await rq.enqueue_many([task.call(minute) for task in calls])
            done += tasks
            while int(r.hget(stats, "succeeded") or 0) < done:  # noqa: ASYNC110 - Redis's count
                await asyncio.sleep(0.002)
            advance(rq, 60)
    finally:
        worker.stop()
        await running
    elapsed = time.monotonic() - started
    minute_bytes = hour_bytes = minute_keys = hour_keys = 0
    for key in r.scan_iter(match=f"mbench:{{{QUEUE}}}:metrics:*", count=1000):
        size = int(r.memory_usage(key, samples=0) or 0)
        if b":metrics:m:" in key:
            minute_bytes, minute_keys = minute_bytes + size, minute_keys + 1
        else:
            hour_bytes, hour_keys = hour_bytes + size, hour_keys + 1
    commands = r.info("commandstats")
    bitfield = commands.get("cmdstat_bitfield", {})
    r.close()
    rq.close()
    per_minute_record = minute_bytes / max(minute_keys, 1)
    per_hour_record = hour_bytes / max(hour_keys, 1)
    # Kept: 72 h of minute records and 30 days of hour records, for the queue and each task.
    kept_72h = per_minute_record * 72 * 60 * (tasks + 1)
    kept_30d = per_hour_record * 30 * 24 * (tasks + 1)
    return {
        "tasks": tasks,
        "minutes": minutes,
        "seconds": round(elapsed, 1),
        "minute records": minute_keys,
        "hour records": hour_keys,
        "bytes per minute record": round(per_minute_record),
        "bytes per hour record": round(per_hour_record),
        "after the run, MB": round((minute_bytes + hour_bytes) / 1e6, 2),
        "kept at steady state (72 h + 30 d), MB": round((kept_72h + kept_30d) / 1e6, 1),
        "BITFIELD calls": bitfield.get("calls"),
        "BITFIELD us per call": bitfield.get("usec_per_call"),
        "BITFIELD calls per job": round(int(bitfield.get("calls", 0)) / max(done, 1), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--minutes", type=int, default=24 * 60)
    args = parser.parse_args()
    embedded = server()
    try:
        result = asyncio.run(simulate(embedded.url, args.tasks, args.minutes))
    finally:
        embedded.stop()
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
