"""Workers that live inside a web app's event loop, started and drained by its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

from redisq.core.client import RedisQ
from redisq.core.config import WorkerSettings
from redisq.core.errors import RedisQError
from redisq.core.worker import Worker

log = logging.getLogger("redisq.asgi")


class Lifecycle:
    """What the lifespan starts and stops; `draining` turns readiness to 503 as soon as shutdown begins."""

    def __init__(
        self,
        rq: RedisQ,
        workers: int,
        settings: WorkerSettings | None,
        queues: Sequence[str] | None,
        queue_concurrency: Mapping[str, int] | None = None,
    ) -> None:
        if workers < 0:
            raise ValueError("workers must be 0 or more")
        self.rq = rq
        self.n_workers = workers
        self.settings = settings or WorkerSettings()
        self.queues = list(queues) if queues else None
        self.queue_concurrency = queue_concurrency
        self.workers: list[Worker] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.started = False
        self.draining = False

    def stopped_workers(self) -> int:
        """Embedded workers that ended (a Redis user without a needed permission, a bug): readiness
        turns 503 rather than serve an app whose jobs nobody runs here."""
        return sum(1 for task in self._tasks if task.done())

    async def start(self) -> None:
        self.started = True
        # An app may live through several lifespans (a module-level app under TestClient, test after test):
        # the last one's workers ran on an event loop that is gone.
        self.workers, self._tasks, self.draining = [], [], False
        # Connect now, so that a wrong URL or an evicting Redis shows in the startup log; an outage is
        # readiness' to report.
        try:
            await self.rq.check_server()
        except Exception as exc:
            log.warning("Redis is not reachable at startup (%s); workers keep retrying", exc)
        for _ in range(self.n_workers):
            worker = Worker(
                self.rq, self.queues, queue_concurrency=self.queue_concurrency, settings=self.settings
            )
            self.workers.append(worker)
            self._tasks.append(asyncio.create_task(worker.run(), name=f"redisq worker {worker.id}"))
        if self.workers:
            log.info(
                "started %d embedded worker(s) on %s", len(self.workers), ", ".join(self.workers[0].queues)
            )

    async def stop(self) -> None:
        """Drain: running jobs get the grace period, the rest go back unspent; then close connections."""
        self.draining = True
        for worker in self.workers:
            worker.stop()
        if self._tasks:
            # The worker bounds its own drain by the grace period; the margin covers giving jobs back.
            _, late = await asyncio.wait(self._tasks, timeout=self.settings.shutdown_grace_s + 10)
            for worker in self.workers:
                if late:
                    worker.stop()  # a second stop gives running jobs back at once
            if late:
                await asyncio.wait(late, timeout=10)
            for task in self._tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    log.error("embedded worker failed", exc_info=task.exception())
        with contextlib.suppress(RedisQError, OSError):
            await self.rq.aclose()
