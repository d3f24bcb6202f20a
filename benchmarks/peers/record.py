"""What every system's no-op task calls: `record(index, enqueued_at)`. Worker side; stdlib and redis-py only.

A Redis round trip per job would dominate a no-op and flatten the differences between systems, so the
task writes to process-local memory only, and a daemon thread, started lazily by the first call in each
process (so prefork children and process pools get their own), flushes the buffer every FLUSH_S with one
pipeline:

- INCRBY KEYS.runs by the number of calls (every run, duplicates included);
- SADD KEYS.seen the job indices (its SCARD is the number of distinct jobs that ran);
- RPUSH KEYS.latency the samples `time.time() - enqueued_at` (jobs enqueued with enqueued_at > 0);
- RPUSH KEYS.first / KEYS.last this process's first and latest call times in the batch.

The harness reads them (see measure.Observed). The Redis URL comes from BENCH_REDIS_URL. With
BENCH_FLUSH_EACH=1 every call flushes at once instead: for a worker that forks a child per job which exits
with os._exit (RQ's default Worker), where a buffer would die with the child.
"""

from __future__ import annotations

import os
import threading
import time

import redis

FLUSH_S = 0.05


class KEYS:
    runs = "bench:obs:runs"
    seen = "bench:obs:seen"
    latency = "bench:obs:latency"
    first = "bench:obs:first"
    last = "bench:obs:last"


class _Buffer:
    def __init__(self) -> None:
        self.indices: list[int] = []
        self.latencies: list[float] = []
        self.first = 0.0
        self.last = 0.0


_lock = threading.Lock()
_buffer = _Buffer()
_pid = 0  # the process whose flusher runs; another pid means we were forked: start a new one
_client: redis.Redis | None = None
_flush_each = os.environ.get("BENCH_FLUSH_EACH") == "1"


def record(index: int, enqueued_at: float = 0.0) -> None:
    global _buffer
    now = time.time()
    if _pid != os.getpid():
        _start()
    with _lock:
        b = _buffer
        b.indices.append(index)
        if enqueued_at > 0:
            b.latencies.append(now - enqueued_at)
        if not b.first:
            b.first = now
        b.last = now
    if _flush_each:
        _flush()


def _start() -> None:
    global _pid, _buffer, _client
    with _lock:
        if _pid == os.getpid():
            return
        _pid = os.getpid()
        _buffer = _Buffer()  # anything inherited through fork belongs to the parent
        _client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    if not _flush_each:
        threading.Thread(target=_loop, name="bench-flusher", daemon=True).start()


def _loop() -> None:
    while True:
        time.sleep(FLUSH_S)
        try:
            _flush()
        except Exception:  # kept for the next try; runs still missing at the end show in the figures
            time.sleep(FLUSH_S)


def _flush() -> None:
    global _buffer
    with _lock:
        b, _buffer = _buffer, _Buffer()
    if not b.indices or _client is None:
        return
    pipe = _client.pipeline(transaction=False)
    pipe.incrby(KEYS.runs, len(b.indices))
    pipe.sadd(KEYS.seen, *b.indices)
    if b.latencies:
        pipe.rpush(KEYS.latency, *b.latencies)
    pipe.rpush(KEYS.first, b.first)
    pipe.rpush(KEYS.last, b.last)
    try:
        pipe.execute()
    except Exception:
        with _lock:  # keep the batch for the next flush
            _buffer.indices[:0] = b.indices
            _buffer.latencies[:0] = b.latencies
            _buffer.first = min(filter(None, (b.first, _buffer.first)))
        raise
