"""An app for the fault-injection tests' worker processes: `redisq worker tests.faultapp:app`.

`app()` builds the RedisQ from the environment that the test gives the worker process:

    REDISQ_URL          the Redis server
    FAULT_PREFIX        the test's own key prefix
    FAULT_QUEUE         the test's queue (the default queue)
    FAULT_SLEEP         seconds that `fault.slow` sleeps (default 30)
    FAULT_RECORD_FILE   record side effects in this file instead of Redis
    REDISQ_RESULT_TTL_S and the other REDISQ_* settings, read by Settings.from_env

The tests build their enqueuing client with `build(...)` too, so both sides register the same tasks under
the same names. Tasks record their side effects in Redis with a plain redis-py client, in hashes keyed by
the job's number `n`:

    <prefix>:starts   how many times a job began running
    <prefix>:runs     how many times a job ran to its end (the side effect proper)
    <prefix>:chord_starts, chord_runs, chord_whole    per chord: its callback's starts, its runs, and
                      its runs that received every result of its group, in order (issue 16)

With FAULT_RECORD_FILE set, they append lines to that file instead: the Redis restart test needs jobs whose
side effects do not depend on the Redis that it kills.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import redis
import redis.asyncio

from redisq import RedisQ


def starts_key(prefix: str) -> str:
    return f"{prefix}:starts"


def runs_key(prefix: str) -> str:
    return f"{prefix}:runs"


class Recorder:
    """Counts side effects: HINCRBY in Redis, or with FAULT_RECORD_FILE set, a line appended to that file
    (for the Redis restart test, where a job's bookkeeping must not need the Redis that is down)."""

    def __init__(self, url: str, path: str | None) -> None:
        self._url = url
        self._sync = redis.Redis.from_url(url)
        self._async: redis.asyncio.Redis | None = None  # created in the worker's loop on first use
        self._fd = None if path is None else os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _append(self, key: str, n: int) -> bool:
        if self._fd is None:
            return False
        os.write(self._fd, f"{key} {n}\n".encode())  # one short O_APPEND write: atomic between writers
        return True

    def incr(self, key: str, n: int) -> None:
        if not self._append(key, n):
            self._sync.hincrby(key, str(n), 1)

    async def aincr(self, key: str, n: int) -> None:
        if self._append(key, n):
            return
        if self._async is None:
            self._async = redis.asyncio.Redis.from_url(self._url)
        await self._async.hincrby(key, str(n), 1)


def read_record_file(path: str, key: str) -> dict[int, int]:
    """The counts that `Recorder` appended to `path` under `key`."""
    counts: dict[int, int] = {}
    with open(path) as f:
        for line in f:
            k, n = line.split()
            if k == key:
                counts[int(n)] = counts.get(int(n), 0) + 1
    return counts


def build(url: str, prefix: str, queue: str, **settings: Any) -> RedisQ:
    """A RedisQ on `prefix` whose default queue is `queue`, with every fault task registered."""
    rq = RedisQ(url, prefix=prefix, default_queue=queue, **settings)
    rec = Recorder(url, os.environ.get("FAULT_RECORD_FILE"))
    starts, runs = starts_key(prefix), runs_key(prefix)

    @rq.task(name="fault.work")
    async def work(n: int, sleep_s: float) -> int:
        """A short async job."""
        await rec.aincr(starts, n)
        await asyncio.sleep(sleep_s)
        await rec.aincr(runs, n)
        return n

    @rq.task(name="fault.work_sync")
    def work_sync(n: int, sleep_s: float) -> int:
        """A short sync job (runs in the worker's thread pool)."""
        rec.incr(starts, n)
        time.sleep(sleep_s)
        rec.incr(runs, n)
        return n

    @rq.task(name="fault.slow")
    async def slow(n: int) -> int:
        """An async job that sleeps FAULT_SLEEP seconds of the worker's environment: cancellable."""
        await rec.aincr(starts, n)
        await asyncio.sleep(float(os.environ.get("FAULT_SLEEP", "30")))
        await rec.aincr(runs, n)
        return n

    @rq.task(name="fault.long_sync")
    def long_sync(n: int, sleep_s: float) -> int:
        """A sync job that outlives its lease many times over, in a job thread."""
        rec.incr(starts, n)
        time.sleep(sleep_s)
        rec.incr(runs, n)
        return n

    @rq.task(name="fault.long_blocking")
    async def long_blocking(n: int, sleep_s: float) -> int:
        """An async job that blocks the worker's event loop (a sync call inside `async def`)."""
        rec.incr(starts, n)
        time.sleep(sleep_s)  # noqa: ASYNC251  deliberately blocking: nothing else runs on the loop
        rec.incr(runs, n)
        return n

    @rq.task(name="fault.chord_done")
    async def chord_done(results: list[int], chord: int, size: int) -> int:
        """A chord's callback: counts whether it got each child's result (`chord * 100 + i`), in order."""
        await rec.aincr(f"{prefix}:chord_starts", chord)
        await asyncio.sleep(0.005)
        if results == [chord * 100 + i for i in range(size)]:
            await rec.aincr(f"{prefix}:chord_whole", chord)
        await rec.aincr(f"{prefix}:chord_runs", chord)
        return sum(results)

    @rq.task(name="fault.noop")
    async def noop(n: int) -> None:
        """Does nothing: for volume."""

    return rq


def app() -> RedisQ:
    """The worker's entry point (`tests.faultapp:app`); settings come from the environment."""
    return build(os.environ["REDISQ_URL"], os.environ["FAULT_PREFIX"], os.environ["FAULT_QUEUE"])
