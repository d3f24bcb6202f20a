"""Abort latency (issue 12): from `await job.abort()` to a result waiter woken with `aborted`.

    python -m benchmarks.abort_latency               # 20 aborts of each kind, on a throwaway local server
    python -m benchmarks.abort_latency --aborts 100

A `redisq worker` process runs the jobs: an `async def` one sleeping (cancelled on its worker) and a plain
`def` one that checks `raise_if_aborted()` every 10 ms (its share of the latency is that interval). Each
job is aborted once it runs, one at a time; the time is the caller's, including the result waiter.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from redisq import JobFailed, JobState, RedisQ, current_job

from .harness import server

ROOT = Path(__file__).resolve().parent.parent
APP = "benchmarks.abort_latency:rq"

rq = RedisQ(default_queue="abort-latency")  # the worker process imports this module: REDISQ_URL set


@rq.task(name="bench.sleeper", retries=0)
async def sleeper() -> None:
    await rq.set_progress(0.0, "running")  # tells the caller it runs (progress is set only when active)
    await asyncio.sleep(600)


@rq.task(name="bench.looper", retries=0)
def looper() -> None:
    job = current_job.get()
    assert job is not None
    rq.set_progress_sync(0.0, "running")
    for _ in range(60_000):
        job.raise_if_aborted()
        time.sleep(0.01)


async def measure(client: RedisQ, task: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        job = (await client.enqueue_many([client.call_by_name(task)]))[0]
        deadline = time.monotonic() + 30
        while (await job.info()).progress is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{job.id} did not start: is the worker running?")
            await asyncio.sleep(0.005)
        started = time.perf_counter()
        if not await job.abort():
            raise RuntimeError(f"{job.id} had ended before its abort")
        try:
            await job.result(timeout=10)
        except JobFailed as exc:
            if exc.state is not JobState.ABORTED:
                raise
        out.append((time.perf_counter() - started) * 1000)
    return out


async def measure_all(url: str, aborts: int) -> None:
    client = RedisQ(url, default_queue="abort-latency")
    client.tasks.update(rq.tasks)  # the same names, to enqueue them by name
    try:
        for kind, task in (
            ("async def (cancelled)", "bench.sleeper"),
            ("def (raise_if_aborted)", "bench.looper"),
        ):
            ms = sorted(await measure(client, task, aborts))
            print(
                f"{kind}: {aborts} aborts, median {statistics.median(ms):.1f} ms, "
                f"p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, max {ms[-1]:.1f} ms"
            )
    finally:
        await client.aclose()


def main(aborts: int) -> None:
    redis_server = server()
    env = {**os.environ, "REDISQ_URL": redis_server.url, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-c", "from redisq.cli import run; run()", "--log-level", "WARNING"]
    worker = subprocess.Popen([*cli, "worker", APP], cwd=ROOT, env=env)
    try:
        asyncio.run(measure_all(redis_server.url, aborts))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        redis_server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.abort_latency", description=__doc__)
    parser.add_argument("--aborts", type=int, default=20)
    main(parser.parse_args().aborts)
