"""`bench`: a quick enqueue + drain benchmark against the configured Redis, in this process.

It works under a prefix of its own (`<prefix>-bench-<random>`), so it never mixes with real queues, and
deletes every key it wrote at the end: the queue's keys, its metrics records, the queue set and the
heartbeat of its worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any, TypedDict

import click

from redisq.core.client import RedisQ
from redisq.core.config import WorkerSettings
from redisq.core.job import JobState
from redisq.core.keys import GlobalKeys, QueueKeys
from redisq.core.operation import Command, Op
from redisq.core.worker import Worker

from .output import echo_json, json_option, operator_command
from .target import current_target

QUEUE = "bench"
NOOP = "redisq.bench.noop"


class BenchResult(TypedDict):
    jobs: int
    concurrency: int
    batch: int
    enqueue_s: float
    enqueue_per_s: float
    drain_s: float
    drain_per_s: float
    succeeded: int
    prefix: str


def _cleanup(k: QueueKeys, g: GlobalKeys, worker_id: str, minutes: range) -> Op[None]:
    keys = [k.levels, k.ready(0), k.scheduled, k.active, k.succeeded, k.dead, k.stats, k.wake, k.paused]
    keys.append(k.tasks)
    keys += [k.metrics("m", m, task) for m in minutes for task in (None, NOOP)]
    keys += [k.metrics("h", h, task) for h in {m // 60 for m in minutes} for task in (None, NOOP)]
    yield [Command(("DEL", key)) for key in keys]
    yield [Command(("DEL", g.queues)), Command(("DEL", g.worker(worker_id))), Command(("DEL", g.workers))]


async def run_bench(base: RedisQ, jobs: int, concurrency: int, batch: int) -> BenchResult:
    prefix = f"{base.settings.prefix}-bench-{uuid.uuid4().hex[:8]}"
    rq = RedisQ(settings=dataclasses.replace(base.settings, prefix=prefix, default_queue=QUEUE))

    @rq.task(name=NOOP, queue=QUEUE, retries=0)
    async def noop(i: int) -> None:
        return None

    first_minute = rq.now_ms() // 60_000
    worker = Worker(rq, [QUEUE], settings=WorkerSettings(concurrency=concurrency), burst=True)
    try:
        started = time.perf_counter()
        for low in range(0, jobs, batch):
            await rq.enqueue_many([noop.call(i) for i in range(low, min(jobs, low + batch))])
        enqueued = time.perf_counter()
        await worker.run()
        drained = time.perf_counter()
        succeeded = (await rq.stats(QUEUE)).succeeded
        await rq.purge(QUEUE, JobState.SUCCEEDED)  # the finished records
        await rq.purge(QUEUE, JobState.DEAD)
    finally:
        minutes = range(first_minute - 1, rq.now_ms() // 60_000 + 2)
        await rq.backend().run(_cleanup(rq.queue_keys(QUEUE), GlobalKeys(prefix), worker.id, minutes))
        await rq.aclose()
    enqueue_s, drain_s = enqueued - started, drained - enqueued
    return {
        "jobs": jobs,
        "concurrency": concurrency,
        "batch": batch,
        "enqueue_s": round(enqueue_s, 3),
        "enqueue_per_s": round(jobs / enqueue_s, 1),
        "drain_s": round(drain_s, 3),
        "drain_per_s": round(jobs / drain_s, 1),
        "succeeded": succeeded,
        "prefix": prefix,
    }


@click.command("bench")
@click.option("--jobs", "count", type=click.IntRange(1, 1_000_000), default=5000, show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option(
    "--batch", type=click.IntRange(1, 10_000), default=500, show_default=True, help="Jobs per enqueue."
)
@json_option
@operator_command
def bench(count: int, concurrency: int, batch: int, as_json: bool) -> None:
    """Enqueue JOBS no-op jobs in batches, drain them with one in-process worker, print jobs/s."""
    base = current_target().client()
    result: Any = asyncio.run(run_bench(base, count, concurrency, batch))
    if as_json:
        echo_json(result)
        return
    click.echo(f"redisq bench: {count} no-op jobs on {base.topology.describe()}, prefix {result['prefix']}")
    click.echo(
        f"enqueue  {result['enqueue_s']:8.3f} s  {result['enqueue_per_s']:10.0f} jobs/s  (batches of {batch})"
    )
    click.echo(
        f"drain    {result['drain_s']:8.3f} s  {result['drain_per_s']:10.0f} jobs/s  "
        f"(1 worker, concurrency {concurrency}; {result['succeeded']} succeeded)"
    )
