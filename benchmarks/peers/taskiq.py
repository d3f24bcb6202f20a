"""taskiq + taskiq-redis: `await noop.kiq(...)`, no bulk API, workers by `taskiq worker`."""

from __future__ import annotations

from typing import Any

from .base import Adapter, AsyncProducer, WorkerRun, cli


class _Async:
    def __init__(self, broker: Any, task: Any) -> None:
        self.broker = broker
        self.task = task

    async def enqueue(self, index: int, enqueued_at: float = 0.0) -> None:
        await self.task.kiq(index, enqueued_at)

    async def aclose(self) -> None:
        await self.broker.shutdown()


class TaskiqAdapter(Adapter):
    system = "taskiq"
    distribution = "taskiq"
    async_api = "await task.kiq(...)"
    no_bulk_reason = "no bulk API (one `kiq` per job)"

    async def async_producer(self) -> AsyncProducer:
        from .taskiq_tasks import broker, noop

        await broker.startup()  # creates the stream's consumer group, so jobs queued now are delivered
        return _Async(broker, noop)

    def workers(self, processes: int) -> WorkerRun:
        # `--workers` defaults to 2: the default is the 2-process run.
        command = [
            cli("taskiq"),
            "worker",
            "benchmarks.peers.taskiq_tasks:broker",
            "--workers",
            str(processes),
            "--log-level",
            "WARNING",
        ]
        return WorkerRun(f"`taskiq worker --workers {processes}` (max-async-tasks 100 each)", [command])


ADAPTER = TaskiqAdapter
