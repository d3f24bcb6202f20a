"""huey (RedisHuey): `noop(...)` enqueues, `noop.map(...)`, workers by `huey_consumer`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Adapter, Bulk, Producer, WorkerRun, cli


class _Sync:
    def __init__(self) -> None:
        from .huey_tasks import huey, noop

        self.huey = huey
        self.noop = noop

    def enqueue(self, index: int, enqueued_at: float = 0.0) -> None:
        self.noop(index, enqueued_at)

    def prepare(self, indices: Sequence[int]) -> Any:
        return list(indices)

    def send(self, prepared: Any) -> None:
        self.noop.map(prepared)

    def close(self) -> None:
        pass  # RedisHuey's connection pool is the module's


class HueyAdapter(Adapter):
    system = "huey"
    distribution = "huey"
    sync_api = "task(...)"
    bulk_api = "Task.map: one enqueue per job"

    def sync_producer(self) -> Producer:
        return _Sync()

    def sync_bulk(self) -> Bulk:
        return _Sync()

    def _command(self, *options: str) -> list[str]:
        return [cli("huey_consumer"), "benchmarks.peers.huey_tasks.huey", "--quiet", *options]

    def workers(self, processes: int) -> WorkerRun:
        if processes == 1:
            return WorkerRun("`huey_consumer` (1 worker thread)", [self._command()])
        label = f"`huey_consumer -k process -w {processes}`"
        return WorkerRun(label, [self._command("-k", "process", "-w", str(processes))])

    def tuned(self) -> list[WorkerRun]:
        return [
            WorkerRun("`huey_consumer -w 8` (8 worker threads)", [self._command("-w", "8")], variant="-w 8")
        ]


ADAPTER = HueyAdapter
