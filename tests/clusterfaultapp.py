"""An app for the Cluster fault tests' worker processes: `redisq worker tests.clusterfaultapp:app`.

Its environment:

    REDISQ_URL        the Cluster (`redis+cluster://...`)
    FAULT_PREFIX      the test's own key prefix
    FAULT_QUEUE       the worker's `--queues` (`a:4,b:4`: the first queue is the default queue)
    FAULT_RECORD_DIR  a directory: each worker process appends to its own file there

A job's execution is recorded outside Redis (the test kills a master or moves a slot: a record in Redis
could be lost with it or be the thing in flight). Each line is `<event> <queue> <n> <unix time>`, written
with one O_APPEND write, for `start` (the job began) and `done` (its side effect is complete).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from redisq import RedisQ


class RecordFile:
    def __init__(self, directory: str) -> None:
        path = Path(directory) / f"worker-{os.getpid()}.log"
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, event: str, queue: str, n: int) -> None:
        os.write(self._fd, f"{event} {queue} {n} {time.time():.6f}\n".encode())


def read_records(directory: Path) -> list[tuple[str, str, int, float]]:
    """Every line of every worker's file: (event, queue, n, unix time)."""
    found = []
    for path in sorted(directory.glob("worker-*.log")):
        for line in path.read_text().splitlines():
            event, queue, n, at = line.split()
            found.append((event, queue, int(n), float(at)))
    return found


def build(url: str, prefix: str, queue: str, record_dir: str | None) -> RedisQ:
    rq = RedisQ(url, prefix=prefix, default_queue=queue)
    record = RecordFile(record_dir) if record_dir else None

    @rq.task(name="cf.work")
    async def work(queue: str, n: int, sleep_s: float) -> int:
        """Records its start and its end around a short sleep."""
        if record is not None:
            record.write("start", queue, n)
        await asyncio.sleep(sleep_s)
        if record is not None:
            record.write("done", queue, n)
        return n

    return rq


def app() -> RedisQ:
    env = os.environ
    default_queue = env["FAULT_QUEUE"].split(",")[0].split(":")[0]  # the worker's `--queues`
    return build(env["REDISQ_URL"], env["FAULT_PREFIX"], default_queue, env.get("FAULT_RECORD_DIR"))
