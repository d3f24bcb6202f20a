"""Redis memory per job, by state and payload size: what a backlog costs (issue 15's first figure).

    python -m benchmarks.memory                      # ~1 min, on a throwaway local server
    python -m benchmarks.memory --jobs 100000 --sizes 50,500,5000

For each payload size, N jobs of one task whose one argument is a string of that many bytes go through
the states a backlog holds, each measured as `INFO used_memory` after the jobs reached it minus before the
first of them was enqueued, divided by N: queued, scheduled (delayed an hour), active (leased by a fetch
that never finishes them), succeeded (records and results kept for their result TTL) and dead (kept as
dead letters). Beside it, `MEMORY USAGE` and `OBJECT ENCODING` of one job record: a record past Redis's
`hash-max-listpack-value` (64 bytes) or `hash-max-listpack-entries` turns into a real hash table, several
times the size. Each state starts from an empty queue of its own; nothing else runs on the server.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Any

from redisq import RedisQ
from redisq.core.job import record_payload
from redisq.core.worker import protocol
from redisq.testing import drain_sync

from .harness import server

STATES = ("queued", "scheduled", "active", "succeeded", "dead")
BATCH = 1000


@dataclass
class Figure:
    state: str
    size: int
    per_job: float  # bytes of used_memory per job
    record: int  # MEMORY USAGE of one job record
    encoding: str  # of that record
    payload: int  # bytes of its payload field


def used_memory(rq: RedisQ) -> int:
    return int(rq.sync_client().info("memory")["used_memory"])


def one_record(rq: RedisQ, queue: str) -> tuple[int, str, int]:
    client = rq.sync_client()
    key = next(client.scan_iter(match=rq.queue_keys(queue).job("*"), count=1000))
    return (
        int(client.memory_usage(key, samples=0) or 0),  # every field (the default samples 5)
        client.object("encoding", key).decode(),
        len(record_payload(client.hgetall(key))),
    )


def register(rq: RedisQ) -> tuple[Any, Any]:
    """The two tasks, registered before the first drain starts a worker (the registry freezes then)."""

    @rq.task(name="bench.mem_ok")  # the default retries: a record leaves out the default (issue 15)
    def ok(text: str) -> None:
        return None

    @rq.task(name="bench.mem_dead", retries=0)
    def dead(text: str) -> None:
        raise RuntimeError("dead on purpose")

    return ok, dead


def measure(rq: RedisQ, tasks: tuple[Any, Any], state: str, size: int, jobs: int) -> Figure:
    queue = f"mem-{state}-{size}"
    ok, dead = tasks
    options: dict[str, Any] = {"queue": queue, "delay_s": 3600} if state == "scheduled" else {"queue": queue}
    task = (dead if state == "dead" else ok).with_options(**options)
    text = "x" * size
    before = used_memory(rq)
    for start in range(0, jobs, BATCH):
        rq.enqueue_many_sync([task.call(text) for _ in range(start, min(jobs, start + BATCH))])
    if state == "active":
        lease_one_hour(rq, queue, jobs)
    elif state in ("succeeded", "dead"):
        drain_sync(rq, [queue])
    after = used_memory(rq)
    record, encoding, payload = one_record(rq, queue)
    return Figure(state, size, (after - before) / jobs, record, encoding, payload)


def lease_one_hour(rq: RedisQ, queue: str, jobs: int) -> None:
    """Fetch every job as a worker would, and never finish them: the records of a busy worker farm."""
    keys = rq.queue_keys(queue)
    backend = rq.backend_sync()
    taken = 0
    while taken < jobs:
        op = protocol.fetch(keys, rq.now_ms(), BATCH, 3_600_000, "bench-memory", 0, rq.settings.dead_ttl_s)
        _, deliveries = backend.run(op)
        if not deliveries:
            raise RuntimeError(f"fetched {taken} of {jobs} jobs")
        taken += len(deliveries)


def table(figures: list[Figure], jobs: int, server_name: str) -> str:
    lines = [
        f"Redis memory per job, {jobs:,} jobs per figure ({server_name}); `python -m benchmarks.memory`",
        "",
        "| state | argument | used_memory per job | MEMORY USAGE of a record | encoding | payload |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for f in figures:
        lines.append(
            f"| {f.state} | {f.size:,} | {f.per_job:,.0f} B | {f.record:,} B | {f.encoding} | {f.payload:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--sizes", default="50,500,5000", help="argument sizes in bytes, comma-separated")
    parser.add_argument("--states", default=",".join(STATES))
    args = parser.parse_args()
    logging.getLogger("redisq").setLevel(logging.ERROR)  # the dead jobs' lines say what the table says
    embedded = server()
    rq = RedisQ(embedded.url, prefix="bench-memory")
    try:
        tasks = register(rq)
        figures = [
            measure(rq, tasks, state, int(size), args.jobs)
            for size in args.sizes.split(",")
            for state in args.states.split(",")
        ]
        info = rq.sync_client().info("server")
        print(table(figures, args.jobs, f"{info.get('server_name') or 'redis'} {info['redis_version']}"))
    finally:
        rq.close()
        embedded.stop()


if __name__ == "__main__":
    main()
