"""The task bodies every system's `noop` task runs, chosen by the worker's environment: BENCH_BODY=io adds
one Redis round trip before `record(...)`. Worker side; stdlib and redis-py only.

- no-op (the default): `record(index, enqueued_at)` only (record.py): the queue's own cost per job.
- I/O: one pipelined round trip, HSET IO_KEYS.hash <index> <time> and INCR IO_KEYS.counter, on a
  connection of the worker process made once (asyncio for async tasks, sync for sync ones; a new process
  made by fork, or a new event loop, makes its own), then the same `record(...)` (so its times are taken
  after the round trip). A real task does some I/O, and a queue's own cost per job only matters beside
  it (issue 15's headline figure). The latency figure always runs the no-op.

`run` is what async tasks await, `run_sync` what sync tasks call; `ceiling.py` runs `run_io` with no
queue.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

import redis
import redis.asyncio

from .record import record


class IO_KEYS:
    hash = "bench:io:jobs"
    counter = "bench:io:done"


IO = os.environ.get("BENCH_BODY") == "io"

_lock = threading.Lock()
_sync: tuple[int, redis.Redis] | None = None  # (pid, client)
_async: tuple[int, asyncio.AbstractEventLoop, redis.asyncio.Redis] | None = None  # (pid, loop, client)


def _url() -> str:
    return os.environ["BENCH_REDIS_URL"]


async def io_round_trip(index: int) -> None:
    global _async
    loop = asyncio.get_running_loop()
    held = _async
    if held is None or held[0] != os.getpid() or held[1] is not loop:
        held = _async = (os.getpid(), loop, redis.asyncio.Redis.from_url(_url()))
    pipe = held[2].pipeline(transaction=False)
    pipe.hset(IO_KEYS.hash, str(index), repr(time.time()))
    pipe.incr(IO_KEYS.counter)
    await pipe.execute()


def io_round_trip_sync(index: int) -> None:
    global _sync
    held = _sync
    if held is None or held[0] != os.getpid():
        with _lock:  # one client per process; its connection pool serves every thread
            if _sync is None or _sync[0] != os.getpid():
                _sync = (os.getpid(), redis.Redis.from_url(_url()))
            held = _sync
    pipe = held[1].pipeline(transaction=False)
    pipe.hset(IO_KEYS.hash, str(index), repr(time.time()))
    pipe.incr(IO_KEYS.counter)
    pipe.execute()


async def run_io(index: int, enqueued_at: float = 0.0) -> None:
    await io_round_trip(index)
    record(index, enqueued_at)


async def run_noop(index: int, enqueued_at: float = 0.0) -> None:
    record(index, enqueued_at)


def run_io_sync(index: int, enqueued_at: float = 0.0) -> None:
    io_round_trip_sync(index)
    record(index, enqueued_at)


run = run_io if IO else run_noop  # what async tasks await
run_sync = run_io_sync if IO else record  # what sync tasks call
