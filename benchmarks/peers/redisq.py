"""redisq: `await task.enqueue()` / `task.delay()`, `rq.enqueue_many(...)`, workers by `redisq worker`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import QUEUE, Adapter, AsyncBulk, AsyncProducer, Bulk, Producer, WorkerRun, cli


class _Sync:
    def __init__(self) -> None:
        from . import redisq_tasks

        self.rq = redisq_tasks.rq
        self.task = redisq_tasks.noop

    def enqueue(self, index: int, enqueued_at: float = 0.0) -> None:
        self.task.delay(index, enqueued_at)

    def prepare(self, indices: Sequence[int]) -> Any:
        return [self.task.call(i) for i in indices]

    def send(self, prepared: Any) -> None:
        self.rq.enqueue_many_sync(prepared)

    def close(self) -> None:
        self.rq.close()


class _Async:
    def __init__(self) -> None:
        from . import redisq_tasks

        self.rq = redisq_tasks.rq
        self.task = redisq_tasks.noop

    async def enqueue(self, index: int, enqueued_at: float = 0.0) -> None:
        await self.task.enqueue(index, enqueued_at)

    def prepare(self, indices: Sequence[int]) -> Any:
        return [self.task.call(i) for i in indices]

    async def send(self, prepared: Any) -> None:
        await self.rq.enqueue_many(prepared)

    async def aclose(self) -> None:
        await self.rq.aclose()


class RedisqAdapter(Adapter):
    system = "redisq"
    distribution = "redisq"
    sync_api = "task.delay(...)"
    async_api = "await task.enqueue(...)"
    bulk_api = "rq.enqueue_many, one call"

    def sync_producer(self) -> Producer:
        return _Sync()

    async def async_producer(self) -> AsyncProducer:
        return _Async()

    def sync_bulk(self) -> Bulk:
        return _Sync()

    async def async_bulk(self) -> AsyncBulk:
        return _Async()

    def _command(self) -> list[str]:
        return [
            cli("redisq"),
            "--log-level",
            "WARNING",
            "worker",
            "benchmarks.peers.redisq_tasks:rq",
            "--queues",
            QUEUE,
        ]

    def workers(self, processes: int) -> WorkerRun:
        label = f"{processes} `redisq worker` process(es) (async task, concurrency 10)"
        return WorkerRun(label, [self._command() for _ in range(processes)])

    def tuned(self) -> list[WorkerRun]:
        sync = WorkerRun(
            "1 `redisq worker` process (plain-def task in its thread pool, concurrency 10)",
            [self._command()],
            env={"BENCH_REDISQ_SYNC": "1"},
            variant="sync task",
        )
        return [sync]


ADAPTER = RedisqAdapter
