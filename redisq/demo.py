"""`redisq demo`: a few hundred jobs of four kinds through one worker, with live progress.

Fast async jobs, slow sync jobs in the thread pool, flaky jobs that fail once and succeed on retry, and
doomed jobs that exhaust their retries and end in the dead letters.
"""

from __future__ import annotations

import asyncio
import random
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .core.client import RedisQ
from .core.config import WorkerSettings
from .core.context import current_job
from .core.job import JobState
from .core.stats import QueueStats
from .core.task import Backoff
from .core.worker import Worker

QUEUE = "demo"


def build_demo(url: str | None = None) -> RedisQ:
    rq = RedisQ(url, default_queue=QUEUE)

    @rq.task(name="demo.fast")
    async def fast(n: int) -> int:
        await asyncio.sleep(0.005)
        return n * 2

    @rq.task(name="demo.slow")
    def slow(n: int) -> str:
        time.sleep(random.uniform(0.05, 0.3))  # a blocking call: runs in the worker's thread pool
        return f"report {n} rendered"

    @rq.task(name="demo.flaky", retries=3, backoff=Backoff.fixed(0.3))
    async def flaky(n: int) -> str:
        job = current_job.get()
        if job is not None and job.attempt == 1:
            raise ConnectionError(f"upstream timed out for webhook {n} (simulated)")
        return "delivered on retry"

    @rq.task(name="demo.doomed", retries=2, backoff=Backoff.fixed(0.2))
    def doomed(n: int) -> None:
        raise ValueError(f"record {n} can never be parsed (simulated)")

    return rq


def mix(total: int) -> dict[str, int]:
    flaky, doomed, slow = total * 15 // 100, total * 5 // 100, total * 15 // 100
    return {
        "demo.fast": total - flaky - doomed - slow,
        "demo.slow": slow,
        "demo.flaky": flaky,
        "demo.doomed": doomed,
    }


def _table(s: QueueStats, total: int, elapsed: float) -> Table:
    table = Table(title=f"queue {s.queue!r} after {elapsed:.1f}s", min_width=60)
    for column in ("queued", "scheduled", "active", "succeeded", "failed attempts", "dead", "of"):
        table.add_column(column, justify="right")
    table.add_row(*(str(v) for v in (s.queued, s.scheduled, s.active, s.succeeded, s.failed, s.dead, total)))
    return table


async def run_demo(total: int = 300, console: Console | None = None, url: str | None = None) -> QueueStats:
    console = console or Console()
    rq = build_demo(url)
    try:
        kind = " (embedded and throwaway: set REDISQ_URL to use yours)" if rq.url and rq.embedded else ""
        console.print(f"Redis: {rq.url}{kind}")
        counts = mix(total)
        specs = [rq.get_task(name).call(i) for name, n in counts.items() for i in range(n)]
        random.shuffle(specs)
        started = time.monotonic()
        await rq.enqueue_many(specs)
        console.print(
            f"enqueued {total} jobs in one round trip: " + ", ".join(f"{n} {k}" for k, n in counts.items())
        )
        worker = Worker(rq, settings=WorkerSettings(concurrency=20))
        running = asyncio.create_task(worker.run())
        stats = await rq.stats(QUEUE)
        with Live(_table(stats, total, 0), console=console, refresh_per_second=8) as live:
            while stats.succeeded + stats.dead < total:
                await asyncio.sleep(0.2)
                stats = await rq.stats(QUEUE)
                live.update(_table(stats, total, time.monotonic() - started))
        worker.stop()
        await running
        elapsed = time.monotonic() - started
        console.print(
            f"\n[bold]all {total} jobs settled in {elapsed:.1f}s[/bold]: {stats.succeeded} succeeded, "
            f"{stats.counters['retried']} retries, {stats.dead} dead letters"
        )
        dead = await rq.jobs(QUEUE, JobState.DEAD, limit=1)
        error = dead[0].error if dead else None
        if error is not None:
            d = dead[0]
            console.print(
                f"a dead letter: {d.id} ({d.task}) after {d.attempts} attempts: {error.type}: {error.message}"
            )
        return stats
    finally:
        await rq.aclose()
