"""Limits across worker processes (issue 12): three `redisq worker` processes share one rate limit and
one concurrency limit, enforced by the fetch script alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from redisq import RedisQ

from . import limitapp
from .faultkit import Workers, drop_prefix, wait_until

WINDOW_S = 20.0


@pytest.fixture
def world(
    redis_url: str, tmp_path: Path, prefix: str, queue: str
) -> Iterator[tuple[RedisQ, redis.Redis, Workers]]:
    rq = limitapp.build(redis_url, prefix, queue)
    raw = redis.Redis.from_url(redis_url)
    workers = Workers(redis_url, prefix, queue, tmp_path, app="tests.limitapp:app")
    try:
        yield rq, raw, workers
    finally:
        workers.stop_all()
        drop_prefix(raw, prefix)
        raw.close()
        rq.close()


def test_a_rate_limit_holds_across_three_worker_processes(
    world: tuple[RedisQ, redis.Redis, Workers], prefix: str
) -> None:
    rq, raw, workers = world
    rated = rq.get_task("limit.rated")
    per_second = 50  # limitapp.RATE
    jobs = rq.enqueue_many_sync([rated.call(i) for i in range(int(per_second * (WINDOW_S + 6)))])
    for _ in range(3):
        workers.start(concurrency=10)
    key = f"{prefix}:rated:starts"
    wait_until(
        lambda: raw.llen(key) >= per_second * (WINDOW_S + 2), WINDOW_S + 30, "the rated jobs", workers.logs
    )
    # When the fetch script leased each job (its record's started_at, in ms): what the limit governs. The
    # task's own clock reading comes later by a scheduling delay that varies with the load on 2 cores.
    pipe = raw.pipeline(transaction=False)
    for job in jobs:
        pipe.hget(rq.queue_keys(job.queue).job(job.uid), "started_at")
    starts = sorted(int(t) / 1000 for t in pipe.execute() if t is not None)
    t0 = starts[0] + 1.0  # measured once every worker is up
    inside = [t for t in starts if t0 <= t < t0 + WINDOW_S]
    rate = len(inside) / WINDOW_S
    assert abs(rate - per_second) <= per_second * 0.05, f"measured {rate:.2f}/s for a limit of {per_second}/s"
    # Spaced, not bunched: at most one start more than the limit in any second (late fetches are forgiven
    # up to one interval, see docs/architecture.md); a lapse of even one worker would show hundreds.
    busiest = max(sum(1 for u in starts[i : i + 3 * per_second] if u < t + 1.0) for i, t in enumerate(starts))
    assert busiest <= per_second + 1, f"{busiest} starts within one second"
    assert {w.alive() for w in workers.started} == {True}


def test_max_concurrency_holds_across_three_worker_processes(
    world: tuple[RedisQ, redis.Redis, Workers], prefix: str
) -> None:
    rq, raw, workers = world
    capped = rq.get_task("limit.capped")
    jobs = rq.enqueue_many_sync([capped.call(i, 0.3) for i in range(12)])
    for _ in range(3):  # a lease of 5 s: a worker starved for a second on a loaded machine must not lose
        workers.start(concurrency=5, lease=5.0)  # its jobs to recovery, which runs them twice (14 of 12)
    wait_until(
        lambda: rq.stats_sync(rq.settings.default_queue).counters["succeeded"] == len(jobs),
        30,
        "the capped jobs",
        workers.logs,
    )
    seen = [int(n) for n in raw.lrange(f"{prefix}:capped:seen", 0, -1)]
    assert len(seen) == 12
    assert max(seen) == limitapp.CAP  # never more than 2 at once across the three, and 2 were used
