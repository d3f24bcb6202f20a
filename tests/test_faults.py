"""Fault injection with real things: a real redis-server, real `redisq worker` processes, real signals.

Each test writes only under its own random key prefix and stops every process it started. The worker app
is `tests.faultapp`; its tasks count their side effects in Redis (`<prefix>:starts`, `<prefix>:runs`,
hashes keyed by the job's number; in a file for the Redis restart test), so that the tests can tell
exactly how often each job ran. Helpers are in `tests/faultkit.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from redisq import JobInfo, JobSpec, JobState, QueueStats, RedisQ, TaskOptions

from . import faultapp
from .conftest import running_worker
from .faultkit import Workers, drop_prefix, memory_of, restartable_redis, scan_prefix, wait_until

pytestmark = pytest.mark.slow


@dataclass
class Fault:
    """One test's world: its prefix and queue, a client with the fault tasks, its worker processes."""

    prefix: str
    queue: str
    rq: RedisQ
    raw: redis.Redis
    workers: Workers

    def stats(self) -> QueueStats:
        return self.rq.stats_sync(self.queue)

    def counts(self, key: str) -> dict[int, int]:
        return {int(k): int(v) for k, v in self.raw.hgetall(key).items()}

    def starts(self) -> dict[int, int]:
        return self.counts(faultapp.starts_key(self.prefix))

    def runs(self) -> dict[int, int]:
        return self.counts(faultapp.runs_key(self.prefix))

    def enqueue(self, task: str, argses: list[tuple[Any, ...]]) -> list[str]:
        """Enqueue in batches; returns the job ids in order."""
        t = self.rq.get_task(task)
        ids: list[str] = []
        for start in range(0, len(argses), 1000):
            jobs = self.rq.enqueue_many_sync([t.call(*a) for a in argses[start : start + 1000]])
            ids += [j.id for j in jobs]
        return ids

    def infos(self, ids: list[str]) -> list[JobInfo]:
        pipe = self.raw.pipeline(transaction=False)
        keys = self.rq.queue_keys(self.queue)
        for job_id in ids:
            pipe.hgetall(keys.job(self.rq.job(job_id).uid))
        return [
            JobInfo.from_hash(job_id, self.queue, fields)
            for job_id, fields in zip(ids, pipe.execute(), strict=True)
        ]

    def wait(self, check: Any, timeout: float, what: str) -> Any:
        return wait_until(check, timeout, what, self.workers.logs)


@contextlib.contextmanager
def fault_world(url: str, tmp_path: Path, **settings: Any) -> Iterator[Fault]:
    prefix, queue = f"t{uuid.uuid4().hex[:12]}", f"q-{uuid.uuid4().hex[:8]}"
    rq = faultapp.build(url, prefix, queue, **settings)
    raw = redis.Redis.from_url(url)
    workers = Workers(url, prefix, queue, tmp_path)
    try:
        yield Fault(prefix, queue, rq, raw, workers)
    finally:
        workers.stop_all()
        drop_prefix(raw, prefix)
        raw.close()
        rq.close()


@pytest.fixture
def fault(redis_url: str, tmp_path: Path) -> Iterator[Fault]:
    with fault_world(redis_url, tmp_path) as world:
        yield world


def _all_done(f: Fault, total: int) -> Any:
    s = f.stats()
    return s if s.succeeded >= total and s.queued == s.active == s.scheduled == 0 else None


# ---- 1. SIGKILL mid-run, three times ------------------------------------------------------------------


def test_sigkill_three_times_mid_run_loses_no_job(fault: Fault) -> None:
    total, concurrency = 2000, 20
    started = time.monotonic()
    # Alternate async and sync jobs of 5 ms each.
    ids = fault.enqueue("fault.work", [(n, 0.005) for n in range(0, total, 2)])
    ids_sync = fault.enqueue("fault.work_sync", [(n, 0.005) for n in range(1, total, 2)])
    job_of = dict(zip(range(0, total, 2), ids, strict=True)) | dict(
        zip(range(1, total, 2), ids_sync, strict=True)
    )

    worker = fault.workers.start(concurrency=concurrency, lease=1)
    at_kill: list[QueueStats] = []
    stranded = 0  # leases held by the workers killed so far
    for threshold in (300, 800, 1300):

        def kill_point(t: int = threshold, held: int = stranded) -> bool:
            # Mid-run, and only once this worker took back every job that the previous one died with.
            s = fault.stats()
            return s.succeeded >= t and s.counters["recovered"] >= held

        fault.wait(kill_point, 60, f"{threshold} jobs succeeded and {stranded} recovered")
        worker.kill()
        # Restart once the dead worker's leases have lapsed, as a supervisor with a restart delay would:
        # the new worker's first sweep then takes them back while the run goes on. Counted only now:
        # requests the worker wrote before it died may still be run by Redis for a while (on a loaded
        # machine, more than the 50 ms this once waited), and with no worker alive nothing else moves.
        time.sleep(1.2)
        s = fault.stats()
        assert s.succeeded < total, f"the run ended before the kill (stats {s}): make the jobs slower"
        assert s.active > 0, "the kill caught no job in flight"
        at_kill.append(s)
        stranded += s.active
        worker = fault.workers.start(concurrency=concurrency, lease=1)

    final = fault.wait(lambda: _all_done(fault, total), 60, f"all {total} jobs succeeded")
    worker.send(signal.SIGTERM)
    assert worker.wait_exit(20) == 0, fault.workers.logs()

    assert final.succeeded == total
    assert (final.queued, final.active, final.scheduled, final.dead, final.failed) == (0, 0, 0, 0, 0)
    infos = {i.id: i for i in fault.infos(list(job_of.values()))}
    assert [n for n, j in job_of.items() if infos[j].state is not JobState.SUCCEEDED] == []
    starts, runs = fault.starts(), fault.runs()
    assert [n for n in range(total) if runs.get(n, 0) < 1] == [], "jobs whose side effect never happened"

    # Every delivery taken back from a dead worker is counted once, and each costs exactly one attempt.
    assert sum(i.recovered for i in infos.values()) == final.counters["recovered"]
    assert [j for j, i in infos.items() if i.attempts != 1 + i.recovered] == []
    assert final.counters["recovered"] > 0, "no kill caught a job in flight: the test proved nothing"

    # Exactly the leases that the killed workers held were taken back, each once, and no live one was.
    assert final.counters["recovered"] == stranded
    # Only jobs in flight at a kill ran again: each of them was taken back from a dead worker.
    started_again = {n for n, c in starts.items() if c > 1}
    ran_again = {n for n, c in runs.items() if c > 1}
    assert ran_again <= started_again
    assert [n for n in started_again if infos[job_of[n]].recovered < 1] == []
    assert len(ran_again) <= 3 * concurrency
    recovered_jobs = sum(1 for i in infos.values() if i.recovered)
    print(
        f"\n[sigkill] {total} jobs in {time.monotonic() - started:.1f}s; leases held by the killed worker: "
        f"{[s.active for s in at_kill]}; succeeded at each kill: {[s.succeeded for s in at_kill]}; "
        f"max attempts of a job: {max(i.attempts for i in infos.values())}; "
        f"recovered deliveries: {final.counters['recovered']} over {recovered_jobs} jobs; "
        f"jobs started more than once: {len(started_again)}; side effect done more than once: "
        f"{len(ran_again)} (bound {3 * concurrency})"
    )


# ---- 2. a job 10x longer than its lease -----------------------------------------------------------------


@pytest.mark.parametrize("task", ["fault.long_sync", "fault.long_blocking"])
def test_job_ten_times_its_lease_is_never_redelivered(fault: Fault, task: str) -> None:
    lease, length = 1.0, 10.0
    [job_id] = fault.enqueue(task, [(0, length)])
    owner = fault.workers.start(concurrency=2, lease=lease)
    fault.wait(lambda: fault.starts().get(0) == 1, 30, "the long job to start")
    # A second worker, idle and sweeping: it would take the job if the lease lapsed.
    other = fault.workers.start(concurrency=2, lease=lease)
    fault.wait(lambda: "serving" in other.log(), 30, "the second worker to start")
    info = fault.wait(
        lambda: (i := fault.rq.job(job_id).info_sync()).state.is_final and i, 3 * length, "the job to end"
    )

    assert owner.alive(), fault.workers.logs()
    assert other.alive(), fault.workers.logs()
    assert info.state is JobState.SUCCEEDED, f"{info.state}: {info.error}\n{fault.workers.logs()}"
    assert (fault.starts(), fault.runs()) == ({0: 1}, {0: 1})
    assert (info.attempts, info.recovered) == (1, 0)
    assert info.worker is not None
    assert f".{owner.pid}." in info.worker
    assert info.started_at is not None
    assert info.finished_at is not None
    assert (info.finished_at - info.started_at).total_seconds() >= length
    assert fault.stats().counters["recovered"] == 0
    assert "was lost" not in owner.log()
    for w in (owner, other):
        w.send(signal.SIGTERM)
        assert w.wait_exit(20) == 0, fault.workers.logs()


# ---- 3. SIGTERM with jobs running ---------------------------------------------------------------------


def test_sigterm_lets_jobs_within_the_grace_finish(fault: Fault) -> None:
    concurrency = 5
    # Jobs 0-4 (async and sync) take 2 s, within the 10 s grace; 5-7 wait behind them.
    fault.enqueue("fault.work", [(n, 2.0) for n in (0, 1, 2)])
    fault.enqueue("fault.work_sync", [(n, 2.0) for n in (3, 4)])
    waiting = fault.enqueue("fault.work", [(n, 0.01) for n in (5, 6, 7)])
    worker = fault.workers.start(concurrency=concurrency, lease=1, grace=10)
    fault.wait(lambda: sum(fault.starts().values()) == concurrency, 30, "five jobs running")
    worker.send(signal.SIGTERM)
    assert worker.wait_exit(20) == 0, fault.workers.logs()

    assert fault.starts() == fault.runs() == dict.fromkeys(range(5), 1)
    s = fault.stats()
    assert (s.succeeded, s.queued, s.active, s.failed) == (5, 3, 0, 0)
    done = fault.rq.jobs_sync(fault.queue, JobState.SUCCEEDED, limit=100)
    assert len(done) == 5
    assert all(i.attempts == 1 and i.recovered == 0 for i in done)
    # The worker stopped fetching: the jobs behind were never touched.
    assert [(i.state, i.attempts) for i in fault.infos(waiting)] == [(JobState.QUEUED, 0)] * 3


def test_sigterm_gives_jobs_past_the_grace_back_unspent(fault: Fault) -> None:
    count = 4
    ids = fault.enqueue("fault.slow", [(n,) for n in range(count)])
    worker = fault.workers.start(concurrency=count, lease=1, grace=1, env={"FAULT_SLEEP": "30"})
    fault.wait(lambda: sum(fault.starts().values()) == count, 30, "four jobs running")
    sent = time.monotonic()
    worker.send(signal.SIGTERM)
    assert worker.wait_exit(20) == 0, fault.workers.logs()
    took = time.monotonic() - sent

    assert took < 10, f"the worker took {took:.1f}s to stop with --grace 1"
    assert f"gave back {count} unfinished jobs" in worker.log()
    infos = fault.infos(ids)
    assert [(i.state, i.attempts, i.recovered) for i in infos] == [(JobState.QUEUED, 0, 0)] * count
    assert fault.runs() == {}
    s = fault.stats()
    assert (s.queued, s.active, s.succeeded, s.failed) == (count, 0, 0, 0)

    # A new worker, whose jobs are quick, finishes them; each spent one attempt in all.
    after = fault.workers.start(concurrency=count, lease=1, env={"FAULT_SLEEP": "0.05"})
    fault.wait(lambda: _all_done(fault, count), 30, "the given-back jobs to succeed")
    after.send(signal.SIGTERM)
    assert after.wait_exit(20) == 0, fault.workers.logs()
    infos = fault.infos(ids)
    assert [(i.state, i.attempts, i.recovered) for i in infos] == [(JobState.SUCCEEDED, 1, 0)] * count
    assert fault.starts() == dict.fromkeys(range(count), 2)
    assert fault.runs() == dict.fromkeys(range(count), 1)
    assert fault.stats().succeeded == count


# ---- 4. Redis restarted under a running worker ---------------------------------------------------------


def test_worker_survives_a_redis_restart(tmp_path: Path) -> None:
    total = 500
    with restartable_redis() as server, fault_world(server.url, tmp_path) as fault:
        ids = fault.enqueue("fault.work", [(n, 0.01) for n in range(0, total, 2)])
        ids += fault.enqueue("fault.work_sync", [(n, 0.01) for n in range(1, total, 2)])
        record = tmp_path / "record.txt"
        record.touch()
        worker = fault.workers.start(concurrency=10, lease=1, env={"FAULT_RECORD_FILE": str(record)})
        fault.wait(lambda: fault.stats().succeeded >= 100, 30, "100 jobs succeeded")
        before = fault.stats()
        server.kill(signal.SIGKILL)
        assert before.succeeded < total, "the run ended before Redis was killed: make the jobs slower"
        time.sleep(2)
        assert worker.alive(), worker.log()
        server.restart()

        final = fault.wait(lambda: _all_done(fault, total), 60, f"all {total} jobs succeeded")
        assert worker.alive(), worker.log()
        assert final.succeeded == total
        assert (final.queued, final.active, final.scheduled, final.dead) == (0, 0, 0, 0)
        assert [i.id for i in fault.infos(ids) if i.state is not JobState.SUCCEEDED] == []
        runs = faultapp.read_record_file(str(record), faultapp.runs_key(fault.prefix))
        assert [n for n in range(total) if runs.get(n, 0) < 1] == []
        log = worker.log(tail=100_000)
        assert "Redis unavailable" in log
        worker.send(signal.SIGTERM)
        assert worker.wait_exit(20) == 0, worker.log()
        print(
            f"\n[redis restart] succeeded before the kill: {before.succeeded}; after: {final.succeeded}; "
            f"recovered: {final.counters['recovered']}; failed attempts: {final.failed}; side effects "
            f"done more than once: {sum(1 for c in runs.values() if c > 1)}; settle retries logged: "
            f"{log.count('could not settle')}; fetch retries logged: {log.count('Redis unavailable (')}"
        )


# ---- 5. poison payloads ---------------------------------------------------------------------------------


async def test_unknown_task_and_garbage_payload_go_to_the_dead_letters_unrun(rq: RedisQ, queue: str) -> None:
    ran: list[str] = []

    @rq.task(name="fault.record")
    async def record(tag: str) -> None:
        ran.append(tag)

    # An unknown task name, through the real enqueue path (four attempts allowed: none may be spent twice).
    spec = JobSpec("fault.no_such_task", ("unknown",), {}, TaskOptions(), queue, 0, 0, "")
    [unknown] = await rq.enqueue_many([spec])
    # Bytes that are not JSON, through the enqueue script with raw ARGV.
    k = rq.queue_keys(queue)
    garbage_uid = uuid.uuid4().hex
    # ARGV: now, count, default result ttl, then uid, payload, priority, max_attempts, task (the per-task
    # counters), no extra options
    garbage_bytes = b"\x80\xfe{not json\x00\xff"
    args = [rq.now_ms(), 1, 3600, garbage_uid, garbage_bytes, 0, 4, "fault.garbage", 0]
    reply = await rq.backend().scripts.enqueue(keys=[k.queued], args=args)
    assert reply == [1]  # created, and no unique key already held
    garbage = rq.job(f"{queue}:{garbage_uid}")
    sentinel = await record.enqueue("sentinel")  # behind both in the queue

    async with running_worker(rq):
        assert await sentinel.result(timeout=10) is None
        deadline = time.monotonic() + 10
        while not all([(await unknown.info()).state.is_final, (await garbage.info()).state.is_final]):
            assert time.monotonic() < deadline, "the poison jobs did not end within 10s"
            await asyncio.sleep(0.05)

    assert ran == ["sentinel"]
    for job, kind in ((unknown, "UnknownTask"), (garbage, "MalformedPayload")):
        info = await job.info()
        assert info.state is JobState.DEAD
        assert info.error is not None
        assert info.error.type == kind
        assert (info.attempts, info.max_attempts, info.recovered) == (1, 4, 0)
    dead = await rq.jobs(queue, JobState.DEAD)
    assert {i.id for i in dead} == {unknown.id, garbage.id}
    s = await rq.stats(queue)
    assert (s.dead, s.counters["dead"], s.succeeded, s.queued, s.active, s.scheduled) == (2, 2, 1, 0, 0, 0)


# ---- 6. memory is bounded ------------------------------------------------------------------------------


def test_memory_returns_to_a_small_constant_after_retention(redis_url: str, tmp_path: Path) -> None:
    total, ttl = 10_000, 2
    with fault_world(redis_url, tmp_path, result_ttl_s=ttl) as fault:
        fault.enqueue("fault.noop", [(n,) for n in range(total)])
        queued_keys = scan_prefix(fault.raw, fault.prefix)
        queued_bytes = memory_of(fault.raw, queued_keys)

        worker = fault.workers.start(concurrency=50, lease=2, env={"REDISQ_RESULT_TTL_S": str(ttl)})
        started = time.monotonic()
        fault.wait(lambda: _all_done(fault, total), 60, f"all {total} jobs succeeded")
        run_s = time.monotonic() - started
        done_keys = scan_prefix(fault.raw, fault.prefix)
        done_bytes = memory_of(fault.raw, done_keys)

        succeeded_index = fault.rq.queue_keys(fault.queue).succeeded
        fault.wait(lambda: fault.raw.zcard(succeeded_index) == 0, 30, "the sweeper to trim the index")

        def few_keys_left() -> list[bytes] | None:
            found = scan_prefix(fault.raw, fault.prefix)
            return found if len(found) <= 10 else None

        keys = fault.wait(few_keys_left, 30, "the records to expire")
        left_bytes = memory_of(fault.raw, keys)
        print(
            f"\n[memory] {total} no-op jobs in {run_s:.1f}s; queued: {len(queued_keys)} keys "
            f"{queued_bytes / 1024:.0f} KiB; finished: {len(done_keys)} keys {done_bytes / 1024:.0f} KiB; "
            f"after {ttl}s retention: {len(keys)} keys {left_bytes} bytes: "
            f"{sorted(k.decode().removeprefix(fault.prefix) for k in keys)}"
        )
        assert fault.stats().succeeded == total
        assert len(keys) <= 10
        assert left_bytes < 50 * 1024
        worker.send(signal.SIGTERM)
        assert worker.wait_exit(20) == 0, worker.log()
        # Stopped, the worker also leaves the registry.
        assert not [k for k in scan_prefix(fault.raw, fault.prefix) if b"{workers}" in k]


# ---- 7. a worker paused (SIGSTOP) for longer than its lease ------------------------------------------


def test_worker_paused_past_its_lease_runs_the_job_at_most_once_more(fault: Fault) -> None:
    """SIGSTOP (a VM suspend, a long GC pause) longer than the lease, then SIGCONT: the job is taken back
    while its worker sleeps. After the pause, the paused run's outcome is ignored and the job runs once
    more, and that redelivery, on a live worker, must keep its lease."""
    lease, length = 1.0, 5.0
    # A second worker, kept busy so that it only sweeps: it takes back the lapsed lease, and the paused
    # worker, once awake, fetches the job again itself.
    [blocker] = fault.enqueue("fault.work", [(100, 60.0)])
    sweeper = fault.workers.start(concurrency=1, lease=lease, grace=1)
    fault.wait(lambda: fault.starts().get(100) == 1, 30, "the sweeper's own job to start")
    [job_id] = fault.enqueue("fault.work", [(0, length)])
    paused = fault.workers.start(concurrency=2, lease=lease)
    fault.wait(lambda: fault.starts().get(0) == 1, 30, "the job to start")
    time.sleep(0.3)
    paused.send(signal.SIGSTOP)
    try:
        fault.wait(lambda: fault.stats().counters["recovered"] >= 1, 10, "the sweeper to take the job back")
    finally:
        paused.send(signal.SIGCONT)
    info = fault.wait(
        lambda: (i := fault.rq.job(job_id).info_sync()).state.is_final and i, 30, "the job to end"
    )

    assert paused.alive(), fault.workers.logs()
    assert sweeper.alive(), fault.workers.logs()
    assert info.state is JobState.SUCCEEDED, f"{info.state}: {info.error}\n{fault.workers.logs()}"
    assert (info.attempts, info.recovered) == (2, 1), fault.workers.logs()
    # The paused run finished too (its side effect is done; its outcome was ignored): two runs, no more.
    assert (fault.starts().get(0), fault.runs().get(0)) == (2, 2), fault.workers.logs()
    assert fault.rq.job(blocker).info_sync().state is JobState.ACTIVE
