"""What a client can read and do on its queues (stats, listings, requeue, pause, purge, progress), with
async and sync twins: mixed into RedisQ, which provides the connections and the keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import context, ops, task_metrics
from .autoscale import DEFAULT_CONCURRENCY, DEFAULT_DRAIN_S, ScalingReport, report
from .backend import AsyncBackend, SyncBackend
from .config import Settings
from .job import JobInfo, JobState
from .keys import QueueKeys, split_job_id
from .operation import Op
from .stats import QueueStats, WorkerInfo
from .task_metrics import QueueMetrics, SystemMetrics


class QueueAdministration:
    settings: Settings

    if TYPE_CHECKING:  # provided by RedisQ

        def backend(self) -> AsyncBackend: ...
        def backend_sync(self) -> SyncBackend: ...
        def queue_keys(self, queue: str) -> QueueKeys: ...
        def now_ms(self) -> int: ...

    async def stats(self, queue: str) -> QueueStats:
        return await self.backend().run(ops.stats(self.queue_keys(queue), self.now_ms()))

    def stats_sync(self, queue: str) -> QueueStats:
        return self.backend_sync().run(ops.stats(self.queue_keys(queue), self.now_ms()))

    async def stats_many(self, queues: Sequence[str]) -> list[QueueStats]:
        """Several queues' numbers in one round trip."""
        return await self.backend().run(ops.stats_many(self.queue_keys, queues, self.now_ms()))

    def stats_many_sync(self, queues: Sequence[str]) -> list[QueueStats]:
        return self.backend_sync().run(ops.stats_many(self.queue_keys, queues, self.now_ms()))

    def _scaling_op(
        self, queues: str | Sequence[str], drain_s: float, default_concurrency: float
    ) -> Op[ScalingReport]:
        names = [queues] if isinstance(queues, str) else list(queues)
        stats, workers = yield from ops.queues_and_workers(
            self.queue_keys, self.settings.prefix, names, self.now_ms(), self.settings.worker_ttl_s * 1000
        )
        return report(stats, workers, drain_s=drain_s, default_concurrency=default_concurrency)

    async def scaling(
        self,
        queues: str | Sequence[str],
        *,
        drain_s: float = DEFAULT_DRAIN_S,
        default_concurrency: float = DEFAULT_CONCURRENCY,
    ) -> ScalingReport:
        """How many workers each queue wants, and a tier serving all of them (see `core/autoscale.py`):
        from backlog, throughput and the live workers' concurrency (`default_concurrency` when none is
        alive), to clear the backlog within `drain_s`. Two round trips."""
        return await self.backend().run(self._scaling_op(queues, drain_s, default_concurrency))

    def scaling_sync(
        self,
        queues: str | Sequence[str],
        *,
        drain_s: float = DEFAULT_DRAIN_S,
        default_concurrency: float = DEFAULT_CONCURRENCY,
    ) -> ScalingReport:
        return self.backend_sync().run(self._scaling_op(queues, drain_s, default_concurrency))

    async def history(self, queue: str, minutes: int = 60) -> list[tuple[int, int, int]]:
        """(epoch minute, succeeded, failed) per minute, oldest first; kept for two hours."""
        return await self.backend().run(ops.history(self.queue_keys(queue), self.now_ms(), _minutes(minutes)))

    def history_sync(self, queue: str, minutes: int = 60) -> list[tuple[int, int, int]]:
        return self.backend_sync().run(ops.history(self.queue_keys(queue), self.now_ms(), _minutes(minutes)))

    async def metrics(self, queue: str, range: str = "1h", task: str | None = None) -> QueueMetrics:
        """A queue's attempts, run times and queue waits over `range` ("1h", "24h", "72h" or "30d"), as
        points, and each task's totals (see task_metrics.py); `task`: that task's points only."""
        return await self.backend().run(
            task_metrics.queue_metrics(self.queue_keys(queue), self.now_ms(), range, task)
        )

    def metrics_sync(self, queue: str, range: str = "1h", task: str | None = None) -> QueueMetrics:
        return self.backend_sync().run(
            task_metrics.queue_metrics(self.queue_keys(queue), self.now_ms(), range, task)
        )

    async def system_metrics(self, queues: Sequence[str], range: str = "1h") -> SystemMetrics:
        """The same summed over `queues`, with each queue's totals."""
        keys = [self.queue_keys(q) for q in queues]
        return await self.backend().run(task_metrics.system_metrics(keys, self.now_ms(), range))

    def system_metrics_sync(self, queues: Sequence[str], range: str = "1h") -> SystemMetrics:
        keys = [self.queue_keys(q) for q in queues]
        return self.backend_sync().run(task_metrics.system_metrics(keys, self.now_ms(), range))

    async def known_queues(self) -> list[str]:
        return await self.backend().run(ops.known_queues(self.settings.prefix))

    def known_queues_sync(self) -> list[str]:
        return self.backend_sync().run(ops.known_queues(self.settings.prefix))

    async def jobs(
        self, queue: str, state: JobState, offset: int = 0, limit: int = 50, newest_first: bool = True
    ) -> list[JobInfo]:
        """One page of a queue's jobs in one state (queued, scheduled, active, succeeded or dead)."""
        return await self.backend().run(
            ops.jobs_by_state(self.queue_keys(queue), state, offset, limit, newest_first)
        )

    def jobs_sync(
        self, queue: str, state: JobState, offset: int = 0, limit: int = 50, newest_first: bool = True
    ) -> list[JobInfo]:
        return self.backend_sync().run(
            ops.jobs_by_state(self.queue_keys(queue), state, offset, limit, newest_first)
        )

    def _workers_op(self) -> Op[list[WorkerInfo]]:
        return ops.live_workers(self.settings.prefix, self.now_ms(), self.settings.worker_ttl_s * 1000)

    async def workers(self) -> list[WorkerInfo]:
        """The workers whose heartbeat is live: what each serves, runs now and has done."""
        return await self.backend().run(self._workers_op())

    def workers_sync(self) -> list[WorkerInfo]:
        return self.backend_sync().run(self._workers_op())

    def _requeue_op(self, queue: str, job_ids: Sequence[str] | None) -> Op[int]:
        uids = None if job_ids is None else [split_job_id(i)[1] for i in job_ids]
        return ops.requeue_dead(self.queue_keys(queue), uids)

    async def requeue_dead(self, queue: str, job_ids: Sequence[str] | None = None) -> int:
        """Requeue the given dead jobs, or every one with `job_ids=None`; returns how many. An empty list
        requeues nothing (a filter that matched nothing must not mean "all")."""
        return await self.backend().run(self._requeue_op(queue, job_ids))

    def requeue_dead_sync(self, queue: str, job_ids: Sequence[str] | None = None) -> int:
        return self.backend_sync().run(self._requeue_op(queue, job_ids))

    def _progress_op(self, value: float, note: str | None) -> Op[bool]:
        job = context.current_job.get()
        if job is None:
            raise RuntimeError("set_progress() is called from inside a running task")
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"progress is a fraction from 0 to 1, got {value}")
        return ops.set_progress(self.queue_keys(job.queue), split_job_id(job.id)[1], value, note)

    async def set_progress(self, value: float, note: str | None = None) -> bool:
        """From inside a task: how far it got (0..1) and what it is doing; shown in `job.info().progress`."""
        return await self.backend().run(self._progress_op(value, note))

    def set_progress_sync(self, value: float, note: str | None = None) -> bool:
        return self.backend_sync().run(self._progress_op(value, note))

    async def pause(self, queue: str) -> None:
        """Workers fetch nothing more from the queue (running jobs finish) until `resume`."""
        await self.backend().run(ops.set_paused(self.queue_keys(queue), True))

    def pause_sync(self, queue: str) -> None:
        self.backend_sync().run(ops.set_paused(self.queue_keys(queue), True))

    async def resume(self, queue: str) -> None:
        await self.backend().run(ops.set_paused(self.queue_keys(queue), False))

    def resume_sync(self, queue: str) -> None:
        self.backend_sync().run(ops.set_paused(self.queue_keys(queue), False))

    async def purge(self, queue: str, state: JobState) -> int:
        """Delete every job of a queue in one state (e.g. all dead letters)."""
        return await self.backend().run(ops.purge(self.queue_keys(queue), state))

    def purge_sync(self, queue: str, state: JobState) -> int:
        return self.backend_sync().run(ops.purge(self.queue_keys(queue), state))


def _minutes(minutes: int) -> int:
    if not 1 <= minutes <= 120:
        raise ValueError("history covers 1 to 120 minutes (per-minute buckets are kept for two hours)")
    return minutes
