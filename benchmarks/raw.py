"""The raw limit of the same server from Python: what one round trip per operation costs.

Sequential round trips between two processes are the figure most sensitive to a shared machine's
scheduling (every operation wakes both sides), so the limit is the best of a few passes.
"""

from __future__ import annotations

import asyncio
import subprocess
import time

import redis
import redis.asyncio

from .harness import Figure, rate

KEY = "raw:list"


def raw_limits(url: str, port: int, n: int, passes: int = 3) -> list[Figure]:
    """Each figure's best of `passes` passes (all of them in extra["passes"])."""
    runs = [raw_figures(url, port, n) for _ in range(passes)]
    best = []
    for same in zip(*runs, strict=True):
        values = [f.value for f in same if f.value is not None]
        fig = max(same, key=lambda f: f.value or 0.0)
        fig.figure += f", best of {passes}"
        fig.extra["passes"] = [round(v) for v in values]
        best.append(fig)
    return best


def raw_figures(url: str, port: int, n: int) -> list[Figure]:
    out: list[Figure] = []
    r = redis.Redis.from_url(url)
    r.delete(KEY)
    started = time.perf_counter()
    for i in range(n):
        r.lpush(KEY, i)
    out.append(
        Figure("raw redis-py", "sequential LPUSH (sync)", rate(n, time.perf_counter() - started), "ops/s")
    )
    started = time.perf_counter()
    for _ in range(n):
        r.rpop(KEY)
    out.append(
        Figure("raw redis-py", "sequential RPOP (sync)", rate(n, time.perf_counter() - started), "ops/s")
    )
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.lpush(KEY, i)
    started = time.perf_counter()
    pipe.execute()
    out.append(
        Figure("raw redis-py", "pipelined LPUSH (sync)", rate(n, time.perf_counter() - started), "ops/s")
    )
    r.delete(KEY)
    r.close()

    async def sequential_async() -> float:
        a = redis.asyncio.Redis.from_url(url)
        started = time.perf_counter()
        for i in range(n):
            await a.lpush(KEY, i)
        elapsed = time.perf_counter() - started
        await a.delete(KEY)
        await a.aclose()
        return elapsed

    out.append(
        Figure(
            "raw redis-py", "sequential LPUSH (asyncio)", rate(n, asyncio.run(sequential_async())), "ops/s"
        )
    )

    async def pipelined_async() -> float:
        a = redis.asyncio.Redis.from_url(url)
        pipe = a.pipeline(transaction=False)
        for i in range(n):
            pipe.lpush(KEY, i)
        started = time.perf_counter()
        await pipe.execute()
        elapsed = time.perf_counter() - started
        await a.delete(KEY)
        await a.aclose()
        return elapsed

    out.append(
        Figure("raw redis-py", "pipelined LPUSH (asyncio)", rate(n, asyncio.run(pipelined_async())), "ops/s")
    )
    for pipeline in (1, 16):
        done = subprocess.run(
            [
                "redis-benchmark",
                "-p",
                str(port),
                "-t",
                "lpush",
                "-n",
                str(n),
                "-P",
                str(pipeline),
                "-q",
                "-c",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        value = None
        for token in done.stdout.replace("\r", "\n").split():
            try:
                value = float(token)
                break
            except ValueError:
                continue
        out.append(Figure("redis-benchmark", f"LPUSH, 1 client, pipeline {pipeline}", value, "ops/s"))
    for f in out:
        f.kind = "raw"
    return out
