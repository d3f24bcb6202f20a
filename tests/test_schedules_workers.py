"""Periodic jobs across worker processes (issue 12): exactly one job per tick, however many workers claim
it, and across a restart of every worker. Real `redisq worker` processes on a real Redis, with a short
real interval (never minutes of sleep). Each tick's job carries the unique key `schedule:beat:<tick>`:
the tests count jobs by it.
"""

from __future__ import annotations

import itertools
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from redisq.core.keys import QueueKeys

from .faultkit import WorkerProcess, Workers, wait_until

pytestmark = pytest.mark.slow


class ScheduleWorkers(Workers):
    """`redisq worker tests.scheduleapp:app` processes (faultkit's Workers) on a schedule every `every_s`."""

    def __init__(self, url: str, prefix: str, queue: str, log_dir: Path, every_s: float) -> None:
        super().__init__(url, prefix, queue, log_dir, app="tests.scheduleapp:app")
        self.every_s = every_s

    def start(self) -> WorkerProcess:  # type: ignore[override]
        env = {"SCHED_PREFIX": self.prefix, "SCHED_QUEUE": self.queue, "SCHED_EVERY_S": str(self.every_s)}
        return super().start(concurrency=4, lease=2.0, env=env)

    def stop(self, workers: list[WorkerProcess]) -> None:
        """SIGTERM to all at once; each must drain and exit 0."""
        for w in workers:
            w.send(signal.SIGTERM)
        for w in workers:
            assert w.wait_exit(15) == 0, w.log()


@pytest.fixture
def fleet(redis_url: str, prefix: str, queue: str, tmp_path: Path) -> Iterator[ScheduleWorkers]:
    workers = ScheduleWorkers(redis_url, prefix, queue, tmp_path, every_s=1.0)
    yield workers
    workers.stop([w for w in workers.started if w.alive()])


def jobs_per_tick(raw: redis.Redis, prefix: str, queue: str) -> Counter[int]:
    """Every job of the queue (queued, running or done), counted by the tick its unique key names."""
    k = QueueKeys(prefix, queue)
    uids = {u for index in (k.active, k.succeeded, k.dead) for u in raw.zrange(index, 0, -1)}
    uids |= {u for level in raw.zrange(k.levels, 0, -1) for u in raw.lrange(k.ready(level.decode()), 0, -1)}
    counts: Counter[int] = Counter()
    for uid in uids:
        key = raw.hget(k.job(uid.decode()), "unique_key")
        assert key is not None and key.startswith(b"schedule:beat:"), key
        counts[int(key.rsplit(b":", 1)[1])] += 1
    return counts


def assert_every_tick_once(counts: Counter[int], every_ms: int) -> list[int]:
    ticks = sorted(counts)
    assert all(n == 1 for n in counts.values()), {t: n for t, n in counts.items() if n != 1}
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert all(g == every_ms for g in gaps), f"lost ticks: gaps {gaps}"
    return ticks


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_five_worker_processes_write_one_job_per_tick(
    fleet: ScheduleWorkers, raw: redis.Redis, prefix: str, queue: str
) -> None:
    workers = [fleet.start() for _ in range(5)]
    wanted = 20
    wait_until(lambda: len(jobs_per_tick(raw, prefix, queue)) >= wanted, 60, f"{wanted} ticks", fleet.logs)
    fleet.stop(workers)
    counts = jobs_per_tick(raw, prefix, queue)
    ticks = assert_every_tick_once(counts, 1000)
    print(f"5 processes, {len(ticks)} ticks: {sum(counts.values())} jobs, each tick once")
    assert len(ticks) >= wanted
    k = QueueKeys(prefix, queue)
    assert raw.zcard(k.succeeded) == sum(counts.values())  # every tick's job ran
    # How late each job was written after its tick: workers sleep at most ~1 s, and never past a tick.
    late = sorted(
        int(raw.hget(k.job(uid.decode()), "enqueued_at"))
        - int(raw.hget(k.job(uid.decode()), "unique_key").rsplit(b":", 1)[1])
        for uid in raw.zrange(k.succeeded, 0, -1)
    )
    print(f"written after their tick: p50 {late[len(late) // 2]} ms, max {late[-1]} ms")
    assert late[0] >= 0 and late[-1] < 2000, late


def test_restart_of_every_worker_between_ticks_loses_and_duplicates_none(
    redis_url: str, prefix: str, queue: str, tmp_path: Path, raw: redis.Redis
) -> None:
    """Round 1 ends with SIGKILL (a worker may die anywhere, mid-claim included), round 2 with SIGTERM; each
    time a tick falls due while no worker runs, and the next workers must claim it, once."""
    fleet = ScheduleWorkers(redis_url, prefix, queue, tmp_path, every_s=3.0)
    try:
        for round_ in range(3):
            workers = [fleet.start() for _ in range(3)]
            wanted = 3 * (round_ + 1)
            wait_until(lambda: len(jobs_per_tick(raw, prefix, queue)) >= wanted, 40, "ticks", fleet.logs)  # noqa: B023
            if round_ == 0:
                for w in workers:
                    w.kill()
            else:
                fleet.stop(workers)  # all at once, right after a tick
            if round_ < 2:  # let the next tick come while no worker runs: the new ones must claim it
                last_tick_s = max(jobs_per_tick(raw, prefix, queue)) / 1000
                time.sleep(max(0.0, last_tick_s + 3.3 - time.time()))
        counts = jobs_per_tick(raw, prefix, queue)
        ticks = assert_every_tick_once(counts, 3000)
        print(f"3 processes killed, then stopped: {len(ticks)} ticks, {sum(counts.values())} jobs, each once")
        assert len(ticks) >= 9
    finally:
        fleet.stop([w for w in fleet.started if w.alive()])
