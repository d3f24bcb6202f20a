"""Celery (Redis broker): `noop.delay(...)`, `group(...).apply_async()`, workers by `celery worker`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Adapter, Bulk, Producer, WorkerRun, cli


class _Sync:
    def __init__(self) -> None:
        from .celery_tasks import app, noop

        self.app = app
        self.noop = noop

    def enqueue(self, index: int, enqueued_at: float = 0.0) -> None:
        self.noop.delay(index, enqueued_at)

    def prepare(self, indices: Sequence[int]) -> Any:
        from celery import group

        return group(self.noop.s(i) for i in indices)

    def send(self, prepared: Any) -> None:
        prepared.apply_async()

    def close(self) -> None:
        pass  # the module's app keeps its producer pool for the next producer of this process


class _Batched(_Sync):
    """The group's messages published through kombu's Producer.batch() (kombu 5.7): one Redis pipeline."""

    def send(self, prepared: Any) -> None:
        with self.app.producer_or_acquire() as producer, producer.batch():
            prepared.apply_async(producer=producer)


class CeleryAdapter(Adapter):
    system = "celery"
    distribution = "celery"
    sync_api = "task.delay(...)"
    bulk_api = "group(...).apply_async()"

    def sync_producer(self) -> Producer:
        return _Sync()

    def sync_bulk(self) -> Bulk:
        return _Sync()

    def tuned_bulk(self) -> list[tuple[str, Bulk]]:
        return [("group + kombu Producer.batch()", _Batched())]

    def _command(self, *options: str) -> list[str]:
        base = [cli("celery"), "-A", "benchmarks.peers.celery_tasks", "worker", "--loglevel", "WARNING"]
        return [*base, *options]

    def workers(self, processes: int) -> WorkerRun:
        # The default pool is prefork with one child per core: 2 here, so the default is the 2-process run.
        label = f"`celery worker --concurrency {processes}` (prefork pool of {processes})"
        return WorkerRun(label, [self._command("--concurrency", str(processes))])

    def tuned(self) -> list[WorkerRun]:
        threads = self._command("--pool", "threads", "--concurrency", "10")
        return [
            WorkerRun("`celery worker --pool threads --concurrency 10`", [threads], variant="--pool threads")
        ]


ADAPTER = CeleryAdapter
