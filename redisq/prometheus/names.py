"""The metric names redisq exposes (issue 14), per the Prometheus conventions: the `redisq_` prefix, base
units (seconds), `_total` on counters, and only `queue` and `task` as labels (never a job id).

Two kinds, told apart because they aggregate differently across processes:

- cluster-wide (CLUSTER): read from Redis by `ClusterCollector`, the same from every process that
  exposes them. Scrape one target, or aggregate with `max` (never `sum`, which counts them N times).
- per process (PROCESS): observed by the process that ran the job (`JobMetrics`). Aggregate with `sum`
  (and `histogram_quantile` over the summed buckets).

No prometheus_client here: the Grafana dashboard's test and the docs read these names.
"""

from __future__ import annotations

# Counters per queue and task, and the counter of `<prefix>:{q}:stats` / `<prefix>:{q}:tasks` each reads.
COUNTERS_PER_TASK = {
    "redisq_jobs_enqueued_total": "enqueued",
    "redisq_jobs_succeeded_total": "succeeded",
    "redisq_jobs_failed_total": "failed",  # failed attempts, retried or not
    "redisq_jobs_retried_total": "retried",
    "redisq_jobs_recovered_total": "recovered",  # lease lapsed (worker died), back in the queue
    "redisq_jobs_dead_total": "dead",
    "redisq_jobs_expired_total": "expired",  # past their ttl before they started
}
# Counters of rare operator actions, per queue only (the scripts do not read the job's task there).
COUNTERS_PER_QUEUE = {
    "redisq_jobs_cancelled_total": "cancelled",
    "redisq_jobs_aborted_total": "aborted",
    "redisq_jobs_requeued_total": "requeued",
    "redisq_jobs_deferred_total": "deferred",
}
QUEUE_DEPTH = "redisq_queue_depth"  # {queue, state}
DEPTH_STATES = ("queued", "scheduled", "active", "dead", "limited")
OLDEST_AGE = "redisq_queue_oldest_job_age_seconds"  # {queue}: the job at the head of the queue
PAUSED = "redisq_queue_paused"  # {queue}: 1 while paused
QUEUE_WORKERS = "redisq_queue_workers"  # {queue}: live workers that serve it
WORKERS_LIVE = "redisq_workers_live"
UP = "redisq_up"  # 1: this scrape read Redis; 0: it could not (the other cluster-wide numbers are absent)

CLUSTER = (
    *COUNTERS_PER_TASK,
    *COUNTERS_PER_QUEUE,
    QUEUE_DEPTH,
    OLDEST_AGE,
    PAUSED,
    QUEUE_WORKERS,
    WORKERS_LIVE,
    UP,
)

RUN_SECONDS = "redisq_job_run_seconds"  # histogram {queue, task}: one attempt, from start to outcome
WAIT_SECONDS = "redisq_job_wait_seconds"  # histogram {queue, task}: enqueue -> first start
WORKER_RUNNING = "redisq_worker_jobs_running"
WORKER_CONCURRENCY = "redisq_worker_concurrency"

PROCESS = (RUN_SECONDS, WAIT_SECONDS, WORKER_RUNNING, WORKER_CONCURRENCY)
