"""Where the time of one enqueue goes: our Python against the round trip.

    python -m benchmarks.enqueue_cost                   # ~20 s, on a throwaway local server
    python -m benchmarks.enqueue_cost --calls 20000 --passes 7

Per call of `await task.enqueue(i)` and `task.delay(i)`, in microseconds, best of several passes:
(a) against the server; (b) with the backend's held connection replaced by one that answers at once, which
leaves exactly our Python (building the job, the operation, packing the EVALSHA, the bookkeeping around
the call); (c) for reference, the bare round trip of the same enqueue script sent from a tight loop, and
of an LPUSH. (a) minus (c) is what our Python costs in place, several times (b): code that runs between
two socket waits finds cold caches, and the longer the client thinks between requests, the likelier the
server's CPU has gone idle when the next one comes. This pokes at the backend's held connection (a
private attribute): a tool for profiling the hot path, not an example.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import hiredis

from redisq import RedisQ

from .harness import server


class AnswersAtOnce:
    """Stands in for a held connection (async or sync): every script call returns {1} (one job created)."""

    def __init__(self, is_async: bool) -> None:
        self.is_async = is_async

    def send_packed_command(self, command: Any, check_health: bool = True) -> Any:
        return self._done(None)

    def read_response(self) -> Any:
        return self._done([1])

    def _done(self, value: Any) -> Any:
        if not self.is_async:
            return value

        async def now() -> Any:
            return value

        return now()


def best_us(run: Callable[[], float], passes: int) -> float:
    return min(run() for _ in range(passes)) * 1e6


async def async_figures(rq: RedisQ, calls: int, passes: int) -> dict[str, float]:
    @rq.task(name="bench.noop_async")
    async def noop(i: int) -> None: ...

    async def per_call(fn: Callable[[int], Awaitable[Any]]) -> float:
        started = time.perf_counter()
        for i in range(calls):
            await fn(i)
        return (time.perf_counter() - started) / calls

    async def best(fn: Callable[[int], Awaitable[Any]]) -> float:
        return min([await per_call(fn) for _ in range(passes)]) * 1e6

    await noop.enqueue(0)  # registers the queue: later calls take the single-job path
    await noop.enqueue(0)  # and this one holds the connection
    backend = rq.backend()
    [held] = backend._idle
    conn: Any = held.conn
    sha = backend.scripts.enqueue.sha
    queued = rq.queue_keys(noop.queue).queued
    payload = b'[2,"bench.noop_async",[1]]'

    async def bare_script(i: int) -> Any:
        args = (rq.now_ms(), 1, 3600, os.urandom(16).hex(), payload, 0, 4, "bench.noop_async", 0)
        await conn.send_packed_command([hiredis.pack_command(("EVALSHA", sha, 1, queued, *args))], False)
        return await conn.read_response()

    lpush = hiredis.pack_command(("LPUSH", "bench:lpush", b"x"))

    async def bare_lpush(i: int) -> Any:
        await conn.send_packed_command([lpush], False)
        return await conn.read_response()

    out = {
        "await task.enqueue(i), against the server": await best(noop.enqueue),
        "same script, bare loop on the held connection": await best(bare_script),
        "LPUSH, bare loop on the held connection": await best(bare_lpush),
    }
    held.conn = AnswersAtOnce(is_async=True)
    out["await task.enqueue(i), server answering at once"] = await best(noop.enqueue)
    held.conn = conn
    return out


def sync_figures(rq: RedisQ, calls: int, passes: int) -> dict[str, float]:
    @rq.task(name="bench.noop_sync")
    def noop(i: int) -> None: ...

    def per_call() -> float:
        started = time.perf_counter()
        for i in range(calls):
            noop.delay(i)
        return (time.perf_counter() - started) / calls

    noop.delay(0)
    noop.delay(0)
    backend = rq.backend_sync()
    held = backend._held
    out = {"task.delay(i), against the server": best_us(per_call, passes)}
    backend._held = AnswersAtOnce(is_async=False)  # type: ignore[assignment]
    out["task.delay(i), server answering at once"] = best_us(per_call, passes)
    backend._held = held
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.enqueue_cost")
    parser.add_argument("--calls", type=int, default=5000, help="calls per pass")
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    embedded = server()  # tens of thousands of jobs: never on a server someone uses
    rq = RedisQ(embedded.url, prefix="bench-enqueue-cost")
    try:
        figures = asyncio.run(_run_async(rq, args.calls, args.passes))
        figures.update(sync_figures(rq, args.calls, args.passes))
    finally:
        rq.close()
        embedded.stop()
    print(f"| per call, best of {args.passes} passes of {args.calls:,} | us |")
    print("|---|---:|")
    for name, value in figures.items():
        print(f"| {name} | {value:.1f} |")


async def _run_async(rq: RedisQ, calls: int, passes: int) -> dict[str, float]:
    try:
        return await async_figures(rq, calls, passes)
    finally:
        await rq.aclose()


if __name__ == "__main__":
    main()
