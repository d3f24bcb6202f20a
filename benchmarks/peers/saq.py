"""SAQ: `await queue.enqueue("noop", ...)`, no bulk API, workers by the `saq` CLI."""

from __future__ import annotations

from typing import Any

from .base import Adapter, AsyncProducer, WorkerRun, cli


class _Async:
    def __init__(self, queue: Any) -> None:
        self.queue = queue

    async def enqueue(self, index: int, enqueued_at: float = 0.0) -> None:
        await self.queue.enqueue("noop", index=index, enqueued_at=enqueued_at)

    async def aclose(self) -> None:
        await self.queue.disconnect()


class SaqAdapter(Adapter):
    system = "saq"
    distribution = "saq"
    async_api = "await queue.enqueue(...)"
    no_bulk_reason = "no bulk API (`Queue.map` enqueues one by one and waits for the results)"

    async def async_producer(self) -> AsyncProducer:
        from .saq_tasks import make_queue

        queue = make_queue()
        await queue.connect()
        return _Async(queue)

    def workers(self, processes: int) -> WorkerRun:
        command = [cli("saq"), "benchmarks.peers.saq_tasks.settings", "--workers", str(processes)]
        return WorkerRun(f"`saq --workers {processes}` (concurrency 10 each)", [command])


ADAPTER = SaqAdapter
