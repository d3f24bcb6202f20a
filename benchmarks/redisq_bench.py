"""redisq's own figures: enqueue (single, sync, bulk), drain by one worker process, latency, duplicates."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

import redis

from redisq import RedisQ

from . import app
from .harness import Figure, rate, stop, worker_process


def _client(url: str, prefix: str) -> RedisQ:
    return RedisQ(url, prefix=prefix, default_queue="bench")


def enqueue_figures(url: str, n: int) -> list[Figure]:
    out: list[Figure] = []

    async def single_async() -> float:
        async with _client(url, f"b{uuid.uuid4().hex[:6]}") as rq:
            task = rq.task(name="bench.noop_async")(app.noop_async.fn)
            await task.enqueue()  # connect and load scripts outside the timing
            started = time.perf_counter()
            for _ in range(n):
                await task.enqueue()
            return time.perf_counter() - started

    out.append(Figure("redisq", "single enqueue (async)", rate(n, asyncio.run(single_async())), "jobs/s"))

    with _client(url, f"b{uuid.uuid4().hex[:6]}") as rq:
        task = rq.task(name="bench.noop_sync")(app.noop_sync.fn)
        task.delay()
        started = time.perf_counter()
        for _ in range(n):
            task.delay()
        out.append(
            Figure("redisq", "single enqueue (sync)", rate(n, time.perf_counter() - started), "jobs/s")
        )
        specs = [task.call() for _ in range(n)]
        started = time.perf_counter()
        rq.enqueue_many_sync(specs)
        out.append(
            Figure(
                "redisq", "bulk enqueue (sync, one call)", rate(n, time.perf_counter() - started), "jobs/s"
            )
        )
    return out


def drain_figure(url: str, n: int, task_name: str, concurrency: int, cap_s: float) -> Figure:
    prefix = f"b{uuid.uuid4().hex[:6]}"
    kind = "async" if "async" in task_name else "sync"
    label = f"drain {n} {kind} no-ops, 1 process, concurrency {concurrency}"
    with _client(url, prefix) as rq:
        task = rq.task(name=task_name)(getattr(app, task_name.split(".")[1]).fn)
        jobs = rq.enqueue_many_sync([task.call() for _ in range(n)])
        worker = worker_process(url, prefix, "bench", concurrency)
        try:
            deadline = time.monotonic() + cap_s
            while rq.stats_sync("bench").succeeded < n:
                if time.monotonic() > deadline or worker.poll() is not None:
                    return Figure("redisq", label, None, "jobs/s", note=f"capped at {cap_s}s")
                time.sleep(0.05)
        finally:
            stop(worker)
        # From the first start to the last finish, as the records say: process start-up is not counted.
        r = redis.Redis.from_url(url)
        pipe = r.pipeline(transaction=False)
        for job in jobs:
            pipe.hmget(rq.keys("bench").job(job.uid), "started_at", "finished_at")
        times = pipe.execute()
        r.close()
        first = min(int(s) for s, _ in times)
        last = max(int(f) for _, f in times)
        attempts = rq.stats_sync("bench").counters
    dupes = attempts["succeeded"] - n
    return Figure("redisq", label, rate(n, (last - first) / 1000), "jobs/s", extra={"duplicate_runs": dupes})


def latency_figure(url: str, count: int = 200, gap_s: float = 0.005) -> list[Figure]:
    prefix = f"b{uuid.uuid4().hex[:6]}"
    worker = worker_process(url, prefix, "bench", 10)
    r = redis.Redis.from_url(url)
    try:
        with _client(url, prefix) as rq:
            task = rq.task(name="bench.latency")(app.latency.fn)
            deadline = time.monotonic() + 20
            while not rq.health_sync(["bench"]).workers and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # idle: the worker is blocked waiting for work
            for _ in range(count):
                task.delay(time.time())
                time.sleep(gap_s)
            deadline = time.monotonic() + 20
            while r.llen(f"{prefix}:latency") < count and time.monotonic() < deadline:
                time.sleep(0.05)
            samples = sorted(float(x) * 1000 for x in r.lrange(f"{prefix}:latency", 0, -1))
    finally:
        stop(worker)
        r.close()
    if len(samples) < count:
        return [Figure("redisq", "latency (start - enqueue)", None, "ms", note=f"{len(samples)}/{count} ran")]
    p99 = samples[int(len(samples) * 0.99) - 1]
    return [
        Figure("redisq", "latency p50, idle worker", statistics.median(samples), "ms"),
        Figure("redisq", "latency p99, idle worker", p99, "ms"),
    ]
