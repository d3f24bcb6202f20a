"""bullmq (PyPI): `await queue.add(...)`, `await queue.addBulk([...])`, workers by bullmq_tasks.main."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from .base import QUEUE, Adapter, AsyncBulk, AsyncProducer, WorkerRun


class _Async:
    def __init__(self) -> None:
        from bullmq import Queue

        from .bullmq_tasks import connection

        self.queue = Queue(QUEUE, connection())

    async def enqueue(self, index: int, enqueued_at: float = 0.0) -> None:
        await self.queue.add("noop", {"index": index, "enqueued_at": enqueued_at})

    def prepare(self, indices: Sequence[int]) -> Any:
        return [{"name": "noop", "data": {"index": i, "enqueued_at": 0.0}} for i in indices]

    async def send(self, prepared: Any) -> None:
        await self.queue.addBulk(prepared)

    async def aclose(self) -> None:
        await self.queue.close()


class BullmqAdapter(Adapter):
    system = "bullmq"
    distribution = "bullmq"
    async_api = "await queue.add(...)"
    bulk_api = "await queue.addBulk([...]), one call"

    async def async_producer(self) -> AsyncProducer:
        return _Async()

    async def async_bulk(self) -> AsyncBulk:
        return _Async()

    def _command(self, *options: str) -> list[str]:
        return [sys.executable, "-m", "benchmarks.peers.bullmq_tasks", *options]

    def workers(self, processes: int) -> WorkerRun:
        label = f"{processes} `Worker` process(es) (bullmq's default concurrency 1)"
        return WorkerRun(label, [self._command() for _ in range(processes)])

    def tuned(self) -> list[WorkerRun]:
        command = self._command("--concurrency", "10")
        return [WorkerRun("1 `Worker` process (concurrency 10)", [command], variant="concurrency 10")]


ADAPTER = BullmqAdapter
