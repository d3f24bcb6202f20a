"""The per-process metrics of the jobs a worker runs: run time and queue wait histograms, running jobs and
concurrency gauges. A JobMiddleware (core/hooks.py) plus the worker's start and stop hooks.

These are observed by the process that ran the job, so they are summed across processes (prometheus_client's
multiprocess mode does that for gunicorn or uvicorn workers: set PROMETHEUS_MULTIPROC_DIR).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, Histogram

from redisq.core.client import RedisQ
from redisq.core.context import JobContext, WorkerContext
from redisq.core.hooks import JobMiddleware

from . import names

RUN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400)


class JobMetrics(JobMiddleware):
    """Histograms `redisq_job_run_seconds` (one attempt, from its start to its outcome) and
    `redisq_job_wait_seconds` (from enqueue to the first attempt's start; a job enqueued with a delay
    waits from its enqueue), per queue and task; gauges `redisq_worker_jobs_running` and
    `redisq_worker_concurrency` of this process's workers.

    `instrument(rq)` adds it to a client with the worker hooks that keep the gauges; one per registry
    (prometheus_client refuses two metrics of one name in a registry).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = REGISTRY,
        *,
        run_buckets: Sequence[float] = RUN_BUCKETS,
        wait_buckets: Sequence[float] = WAIT_BUCKETS,
    ) -> None:
        labels = ("queue", "task")
        self.run_seconds = Histogram(
            names.RUN_SECONDS, "Run time of one attempt", labels, registry=registry, buckets=run_buckets
        )
        self.wait_seconds = Histogram(
            names.WAIT_SECONDS,
            "From enqueue to the first start",
            labels,
            registry=registry,
            buckets=wait_buckets,
        )
        # livesum: in multiprocess mode, the sum over the processes alive (mark_process_dead on exit).
        self.running = Gauge(
            names.WORKER_RUNNING,
            "Jobs running now in this process",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.concurrency = Gauge(
            names.WORKER_CONCURRENCY,
            "Most jobs this process's workers run at once",
            registry=registry,
            multiprocess_mode="livesum",
        )
        # When the current attempt started (perf_counter), in the job's own context: the worker calls
        # `before` and the outcome in the same context, and a job given back at shutdown leaves nothing.
        self._started: ContextVar[float | None] = ContextVar(f"redisq_metrics_{id(self)}", default=None)
        self._running_by_worker: dict[str, int] = {}

    def before(self, job: JobContext) -> None:
        self._started.set(time.perf_counter())
        if job.attempt == 1 and job.enqueued_at is not None:
            self.wait_seconds.labels(job.queue, job.task).observe(max(0.0, time.time() - job.enqueued_at))
        self.running.inc()
        worker = job.worker.id if job.worker else ""
        self._running_by_worker[worker] = self._running_by_worker.get(worker, 0) + 1

    def _ended(self, job: JobContext) -> None:
        started = self._started.get()
        if started is None:  # a job refused unexecuted, or the second event of one outcome
            return
        self._started.set(None)
        self.run_seconds.labels(job.queue, job.task).observe(time.perf_counter() - started)
        self.running.dec()
        worker = job.worker.id if job.worker else ""
        self._running_by_worker[worker] = self._running_by_worker.get(worker, 0) - 1

    def after(self, job: JobContext, result: Any) -> None:
        self._ended(job)

    def on_failure(self, job: JobContext, exc: BaseException) -> None:
        self._ended(job)

    def on_retry(self, job: JobContext, exc: BaseException, retry_at: datetime) -> None:
        self._ended(job)  # `raise Retry` skips on_failure

    def on_dead(self, job: JobContext, reason: BaseException | str) -> None:
        self._ended(job)

    def on_abort(self, job: JobContext) -> None:
        self._ended(job)

    def worker_started(self, worker: WorkerContext) -> None:
        self.concurrency.inc(worker.concurrency)

    def worker_stopped(self, worker: WorkerContext) -> None:
        """Jobs given back at shutdown had no outcome event: the worker runs none now."""
        self.concurrency.dec(worker.concurrency)
        self.running.dec(self._running_by_worker.pop(worker.id, 0))


def instrument(rq: RedisQ, registry: CollectorRegistry | None = REGISTRY) -> JobMetrics:
    """Observe every job that `rq`'s workers run (before they start: hooks are frozen then)."""
    metrics = JobMetrics(registry)
    rq.add_middleware(metrics)
    rq.on_worker_start(metrics.worker_started)
    rq.on_worker_stop(metrics.worker_stopped)
    return metrics
