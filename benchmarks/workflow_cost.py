"""What a workflow costs over the same jobs without one (issue 16): drain rate, worker CPU and Redis memory.

    python -m benchmarks.workflow_cost                  # 200 chords of 20, 3 runs: ~1 min
    python -m benchmarks.workflow_cost --chords 500 --size 10 --runs 5

An in-process `Worker` (concurrency 10, as `redisq worker` runs the benchmark) on a throwaway server
drains (a) chords: `chord(group(noop.call(i) for i in range(size)), then=total.call())`, each callback
taking its group's results, and (b) the same number of plain no-op jobs (`chords * (size + 1)`), enqueued
beforehand. Per run: jobs/s and the worker process's CPU per job (what an A/B should compare on a loaded
machine). Then Redis memory (`INFO used_memory`, deltas over 1,000 of each, nothing running): a queued
plain job, a queued chord child (its record names its parent), and a waiting callback (its record and its
`deps:<uid>` hash of `size` entries). Not a figure of the side-by-side run (`python -m benchmarks`): no peer
runs this shape on the same terms yet.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import redis

from redisq import RedisQ, chord, group

from .harness import server

CONCURRENCY = 10


def _client(url: str) -> tuple[RedisQ, Any, Any]:
    rq = RedisQ(url, prefix="wfbench", default_queue="wf")

    @rq.task(name="bench.noop")
    async def noop(n: int) -> int:
        return n

    @rq.task(name="bench.total")
    async def total(results: list[int]) -> int:
        return sum(results)

    return rq, noop, total


async def _drain(rq: RedisQ, r: redis.Redis, jobs: int) -> dict[str, float]:
    from redisq.core.worker.worker import Worker

    worker = Worker(rq, concurrency=CONCURRENCY)
    started, cpu = time.monotonic(), time.process_time()
    running = asyncio.create_task(worker.run())
    stats = rq.queue_keys("wf").stats
    while int(r.hget(stats, "succeeded") or 0) < jobs:  # noqa: ASYNC110 - Redis's count, no event
        await asyncio.sleep(0.01)
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    worker.stop()
    await running
    return {"jobs/s": jobs / wall, "worker CPU, us/job": cpu / jobs * 1e6}


async def _run(url: str, chords: int, size: int, workflows: bool) -> dict[str, float]:
    r = redis.Redis.from_url(url)
    r.flushdb()
    rq, noop, total = _client(url)
    try:
        if workflows:
            for _ in range(chords):
                await rq.enqueue_workflow(chord(group(noop.call(i) for i in range(size)), then=total.call()))
        else:
            await rq.enqueue_many([noop.call(i) for i in range(chords * (size + 1))])
        return await _drain(rq, r, chords * (size + 1))
    finally:
        await rq.aclose()
        r.close()


async def _memory(url: str, size: int, n: int = 1000) -> dict[str, float]:
    r = redis.Redis.from_url(url)
    rq, noop, total = _client(url)
    try:
        r.flushdb()
        used = lambda: int(r.info("memory")["used_memory"])  # noqa: E731
        before = used()
        await rq.enqueue_many([noop.call(i) for i in range(n)])
        plain = (used() - before) / n
        r.flushdb()
        before = used()
        for _ in range(n // size):
            await rq.enqueue_workflow(chord(group(noop.call(i) for i in range(size)), then=total.call()))
        per_chord = (used() - before) / (n // size)
        return {
            "queued plain job, B": plain,
            f"chord of {size} + callback, B": per_chord,
            f"its overhead over {size + 1} plain jobs, B": per_chord - plain * (size + 1),
        }
    finally:
        await rq.aclose()
        r.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workflow_cost")
    parser.add_argument("--chords", type=int, default=200)
    parser.add_argument("--size", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    embedded = server()
    try:
        rows: dict[str, list[dict[str, float]]] = {"plain": [], "chords": []}
        for _ in range(args.runs):  # interleaved: a slow moment of the machine hits both
            rows["plain"].append(asyncio.run(_run(embedded.url, args.chords, args.size, False)))
            rows["chords"].append(asyncio.run(_run(embedded.url, args.chords, args.size, True)))
        jobs = args.chords * (args.size + 1)
        shape = f"{args.chords} chords of {args.size} against plain jobs"
        print(f"\n{jobs:,} no-op jobs: {shape}, median of {args.runs}\n")
        print("| figure | plain | chords | chords / plain |")
        print("|---|---:|---:|---:|")
        for name in rows["plain"][0]:
            p = statistics.median(r[name] for r in rows["plain"])
            c = statistics.median(r[name] for r in rows["chords"])
            print(f"| {name} | {p:,.1f} | {c:,.1f} | {c / p:.2f}x |")
        memory = asyncio.run(_memory(embedded.url, args.size))
        print("\n| Redis memory (INFO used_memory) | bytes |\n|---|---:|")
        for name, value in memory.items():
            print(f"| {name} | {value:,.0f} |")
    finally:
        embedded.stop()


if __name__ == "__main__":
    main()
