"""streaq: `await task.enqueue(...)`, `await worker.enqueue_many([...])`, workers by streaq_tasks.main."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from .base import Adapter, AsyncBulk, AsyncProducer, WorkerRun


class _Async:
    """The worker object is also streaq's producer: enqueueing needs it entered (`async with worker`).

    streaq's context (its client's task group) must be left by the task that entered it, and the latency
    figure drives an async producer call by call (a task each, enqueue.sync_enqueue): one holder task
    enters it and leaves it when closed, and every call in between uses the entered worker."""

    def __init__(self) -> None:
        from . import streaq_tasks

        self.worker = streaq_tasks.worker
        self.task = streaq_tasks.noop
        self.entered = asyncio.Event()
        self.leave = asyncio.Event()
        self.holder: asyncio.Task[None] | None = None

    async def _hold(self) -> None:
        async with self.worker:
            self.entered.set()
            await self.leave.wait()

    async def open(self) -> _Async:
        self.holder = asyncio.create_task(self._hold())
        entered = asyncio.create_task(self.entered.wait())
        await asyncio.wait([self.holder, entered], return_when=asyncio.FIRST_COMPLETED)
        if not self.entered.is_set():
            entered.cancel()
            await self.holder  # raises what failed
        return self

    async def enqueue(self, index: int, enqueued_at: float = 0.0) -> None:
        await self.task.enqueue(index, enqueued_at)

    def prepare(self, indices: Sequence[int]) -> Any:
        return [self.task.enqueue(i) for i in indices]  # not awaited: descriptions for enqueue_many

    async def send(self, prepared: Any) -> None:
        await self.worker.enqueue_many(prepared)

    async def aclose(self) -> None:
        self.leave.set()
        if self.holder is not None:
            await self.holder


class StreaqAdapter(Adapter):
    system = "streaq"
    distribution = "streaq"
    async_api = "await task.enqueue(...)"
    bulk_api = "await worker.enqueue_many([...]), one pipeline"

    async def async_producer(self) -> AsyncProducer:
        return await _Async().open()

    async def async_bulk(self) -> AsyncBulk:
        return await _Async().open()

    def workers(self, processes: int) -> WorkerRun:
        # `streaq run --workers 2` starts the second worker as a child process; two commands are the same.
        command = [sys.executable, "-m", "benchmarks.peers.streaq_tasks"]
        label = f"{processes} `streaq run` process(es) (concurrency 16, at WARNING)"
        return WorkerRun(label, [command for _ in range(processes)])


ADAPTER = StreaqAdapter
