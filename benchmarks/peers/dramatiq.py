"""dramatiq (RedisBroker): `noop.send(...)`, `group(...).run()`, workers by the `dramatiq` CLI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Adapter, Bulk, Producer, WorkerRun, cli


class _Sync:
    def __init__(self) -> None:
        from .dramatiq_tasks import broker, noop

        self.broker = broker
        self.noop = noop

    def enqueue(self, index: int, enqueued_at: float = 0.0) -> None:
        self.noop.send(index, enqueued_at)

    def prepare(self, indices: Sequence[int]) -> Any:
        from dramatiq import group

        return group(self.noop.message(i) for i in indices)

    def send(self, prepared: Any) -> None:
        prepared.run()

    def close(self) -> None:
        pass  # the broker's connection pool is the module's, shared by the producers of this process


class DramatiqAdapter(Adapter):
    system = "dramatiq"
    distribution = "dramatiq"
    sync_api = "actor.send(...)"
    bulk_api = "group(...).run(): one enqueue per message"

    def sync_producer(self) -> Producer:
        return _Sync()

    def sync_bulk(self) -> Bulk:
        return _Sync()

    def workers(self, processes: int) -> WorkerRun:
        # `--processes` defaults to the number of cores (2 here): the default is the 2-process run.
        command = [cli("dramatiq"), "benchmarks.peers.dramatiq_tasks", "--processes", str(processes)]
        return WorkerRun(f"`dramatiq --processes {processes}` (8 threads each)", [command])


ADAPTER = DramatiqAdapter
