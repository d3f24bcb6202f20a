"""RQ: `queue.enqueue(noop, ...)`, `queue.enqueue_many(...)`, workers by `rq worker` / `rq worker-pool`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import QUEUE, Adapter, Bulk, Producer, WorkerRun, cli


class _Sync:
    def __init__(self, url: str) -> None:
        from redis import Redis
        from rq import Queue

        from .rq_tasks import noop

        self.connection = Redis.from_url(url)
        self.queue = Queue(QUEUE, connection=self.connection)
        self.noop = noop
        self.Queue = Queue

    def enqueue(self, index: int, enqueued_at: float = 0.0) -> None:
        self.queue.enqueue(self.noop, index, enqueued_at)

    def prepare(self, indices: Sequence[int]) -> Any:
        return [self.Queue.prepare_data(self.noop, (i,)) for i in indices]

    def send(self, prepared: Any) -> None:
        self.queue.enqueue_many(prepared)

    def close(self) -> None:
        self.connection.close()


class RqAdapter(Adapter):
    system = "rq"
    distribution = "rq"
    sync_api = "queue.enqueue(...)"
    bulk_api = "Queue.enqueue_many, one pipeline"

    def sync_producer(self) -> Producer:
        return _Sync(self.url)

    def sync_bulk(self) -> Bulk:
        return _Sync(self.url)

    def _command(self, *args: str) -> list[str]:
        return [cli("rq"), *args, "--url", self.url, "--quiet", QUEUE]

    def workers(self, processes: int) -> WorkerRun:
        # The default Worker forks a child per job: the record is flushed by that child (record.py).
        env = {"BENCH_FLUSH_EACH": "1"}
        if processes == 1:
            return WorkerRun("`rq worker` (Worker: a forked child per job)", [self._command("worker")], env)
        command = self._command("worker-pool", "-n", str(processes))
        return WorkerRun(f"`rq worker-pool -n {processes}` (Worker: a forked child per job)", [command], env)

    def tuned(self) -> list[WorkerRun]:
        command = self._command("worker", "-w", "rq.SimpleWorker")
        return [WorkerRun("`rq worker -w rq.SimpleWorker` (no fork)", [command], variant="SimpleWorker")]


ADAPTER = RqAdapter
