"""What one job costs a draining worker, and Redis: CPU per job on each side, script calls, batch sizes.

    python -m benchmarks.drain_cost                     # no-op and I/O bodies, 3 runs of 10,000 jobs each
    python -m benchmarks.drain_cost --bodies io --jobs 20000 --runs 5

An in-process `Worker` (concurrency 10, as `redisq worker` runs the benchmark) drains jobs of the
benchmark's task (peers/redisq_tasks.py, with the no-op or the I/O body) enqueued beforehand, on a
throwaway server. Per run: jobs/s; the worker process's CPU time per job (`time.process_time`); the
server's (`INFO cpu`, user + system); its script calls (`INFO commandstats`, EVALSHA) and the fetch
calls with the jobs they brought (batch size). CPU per job holds on a loaded machine where rates do not:
what an A/B of two commits should compare (run each from its own worktree with PYTHONPATH pointing at it).
Not a figure of the side-by-side run: that is `python -m benchmarks`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import statistics
import time
from typing import Any

import redis

from .harness import server

CONCURRENCY = 10


async def _drain(rq: Any, task: Any, r: redis.Redis, jobs: int) -> dict[str, float]:
    from redisq.core.worker.worker import Worker

    r.flushdb()
    await rq.enqueue_many([task.call(i, 0.0) for i in range(jobs)])
    r.config_resetstat()
    worker = Worker(rq, concurrency=CONCURRENCY)
    fetched = {"calls": 0, "jobs": 0}
    fetch = worker._fetch  # counted from outside: the worker keeps no such statistics

    async def counted(free: int) -> tuple[int | None, int]:
        next_due, got = await fetch(free)
        fetched["calls"] += 1
        fetched["jobs"] += got
        return next_due, got

    worker._fetch = counted  # type: ignore[method-assign]
    cpu_info = r.info("cpu")
    server_cpu = cpu_info["used_cpu_user"] + cpu_info["used_cpu_sys"]
    started, cpu = time.monotonic(), time.process_time()
    running = asyncio.create_task(worker.run())
    stats_key = rq.queue_keys(task.queue).stats
    while int(r.hget(stats_key, "succeeded") or 0) < jobs:  # noqa: ASYNC110 - Redis's count, no event
        await asyncio.sleep(0.01)
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    cpu_info = r.info("cpu")
    server_cpu = cpu_info["used_cpu_user"] + cpu_info["used_cpu_sys"] - server_cpu
    worker.stop()
    await running
    calls = r.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    return {
        "jobs/s": jobs / wall,
        "worker CPU, us/job": cpu / jobs * 1e6,
        "Redis CPU, us/job": server_cpu / jobs * 1e6,
        "script calls": float(calls),
        "jobs per fetch": fetched["jobs"] / max(fetched["calls"], 1),
    }


async def _measure(url: str, body: str, jobs: int, runs: int) -> list[dict[str, float]]:
    os.environ["BENCH_REDIS_URL"] = url
    os.environ["BENCH_BODY"] = body
    # Both modules read them when imported: imported again for each body.
    importlib.reload(importlib.import_module("benchmarks.peers.body"))
    tasks = importlib.reload(importlib.import_module("benchmarks.peers.redisq_tasks"))
    r = redis.Redis.from_url(url)
    try:
        return [await _drain(tasks.rq, tasks.noop, r, jobs) for _ in range(runs)]
    finally:
        await tasks.rq.aclose()
        r.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.drain_cost")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bodies", default="noop,io", help="comma-separated, of: noop, io")
    args = parser.parse_args()
    embedded = server()
    try:
        for body in args.bodies.split(","):
            results = asyncio.run(_measure(embedded.url, "io" if body == "io" else "", args.jobs, args.runs))
            print(f"\n{body} body, {args.jobs:,} jobs, median of {args.runs} runs (runs in parentheses)\n")
            print("| figure | median | runs |")
            print("|---|---:|---|")
            for name in results[0]:
                values = [r[name] for r in results]
                runs = ", ".join(f"{v:,.1f}" for v in values)
                print(f"| {name} | {statistics.median(values):,.1f} | {runs} |")
    finally:
        embedded.stop()


if __name__ == "__main__":
    main()
