"""Redis Cluster faults for real: a master SIGKILLed mid-run (its replica takes over), a queue's slot moved
to another master mid-run (live resharding, as redis-cli does it), and a worker on queues of three masters
woken at once. Each test starts its own cluster (the session one must not be broken) and real `redisq
worker` processes, which record every execution in files outside Redis (tests/clusterfaultapp.py)."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.crc import key_slot

from redisq import RedisQ, RedisUnavailable
from redisq.core.embedded import find_server_binary

from .clusterfaultapp import build, read_records
from .faultkit import Workers, wait_until
from .topologies import Cluster, binaries, start_cluster

APP = "tests.clusterfaultapp:app"
BINARY = find_server_binary()


def queues_on_distinct_masters(cluster: Cluster, prefix: str, count: int) -> list[str]:
    """Queue names whose slots are owned by `count` different masters."""
    chosen: dict[str, str] = {}
    while len(chosen) < count:
        name = f"q{uuid.uuid4().hex[:6]}"
        owner = cluster.master_for_key(f"{prefix}:{{{name}}}:queued").node_id
        if owner not in chosen.values():
            chosen[name] = owner
    return list(chosen)


@pytest.fixture
def record_dir(tmp_path: Path) -> Path:
    path = tmp_path / "records"
    path.mkdir()
    return path


def start_workers(
    cluster: Cluster, prefix: str, queues: list[str], tmp_path: Path, record_dir: Path, count: int
) -> Workers:
    # A worker serves its queues in order; capped at 4 jobs each, the three are served side by side.
    workers = Workers(cluster.url, prefix, ",".join(f"{q}:4" for q in queues), tmp_path, app=APP)
    for _ in range(count):
        workers.start(concurrency=12, lease=5.0, grace=5.0, env={"FAULT_RECORD_DIR": str(record_dir)})
    return workers


def events(record_dir: Path, event: str) -> Counter[tuple[str, int]]:
    return Counter((q, n) for e, q, n, _ in read_records(record_dir) if e == event)


def victim_done(record_dir: Path, queue: str) -> int:
    return sum(1 for q, _ in events(record_dir, "done") if q == queue)


def unfinished(rq: RedisQ, queues: list[str]) -> int:
    """Jobs still queued, scheduled or running, over the queues."""
    return sum(s.queued + s.scheduled + s.active for s in rq.stats_many_sync(queues))


@pytest.fixture
def replicated_cluster() -> Iterator[Cluster]:
    assert BINARY is not None
    with start_cluster(BINARY, masters=3, replicas=1) as cluster:
        yield cluster


def test_a_master_killed_mid_run_loses_no_job_and_its_queue_resumes_on_the_replica(
    replicated_cluster: Cluster, tmp_path: Path, record_dir: Path
) -> None:
    cluster = replicated_cluster
    prefix = f"t{uuid.uuid4().hex[:8]}"
    queues = queues_on_distinct_masters(cluster, prefix, 3)
    victim_queue = queues[0]
    total = 2000
    rq = build(cluster.url, prefix, queues[0], None)
    workers: Workers | None = None
    try:
        work = rq.get_task("cf.work")
        specs = [work.with_options(queue=queues[i % 3]).call(queues[i % 3], i, 0.01) for i in range(total)]
        jobs = rq.enqueue_many_sync(specs)
        assert len({job.id for job in jobs}) == total
        for node in cluster.live:  # every master's writes are on its replica before the run
            if node.role == "master":
                assert node.command("WAIT", 1, 5000) == 1
        victim = cluster.master_for_key(f"{prefix}:{{{victim_queue}}}:queued")

        workers = start_workers(cluster, prefix, queues, tmp_path, record_dir, count=2)
        wait_until(lambda: victim_done(record_dir, victim_queue) >= total / 3 * 0.3, 60, "30%", workers.logs)
        cluster.kill(victim)
        killed_at = time.time()  # dead by now (kill() reaps it): a fetch that starts later is the heir's
        heir = cluster.wait_for_failover(victim, timeout=20)
        failover_s = time.time() - killed_at

        wait_until(lambda: unfinished(rq, queues) == 0, 60, "every job to finish", workers.logs, every=0.2)
        records = read_records(record_dir)
        starts = Counter((q, n) for e, q, n, _ in records if e == "start")
        done = Counter((q, n) for e, q, n, _ in records if e == "done")
        expected = {(queues[i % 3], i) for i in range(total)}
        assert set(done) == expected  # every job ran to its end at least once; nothing else ran
        states = Counter(job.info_sync().state for job in jobs)
        assert states == {"succeeded": total}, states

        # A job runs twice only if it ran, or had just finished, on the killed master: its fetch or its
        # finish was not yet on the replica. Never on the other queues, never a job first started later.
        # Records are grouped by worker file, not sorted by time: the first start is the earliest one.
        first_start: dict[tuple[str, int], float] = {}
        for e, q, n, at in records:
            if e == "start":
                first_start[(q, n)] = min(at, first_start.get((q, n), at))
        duplicates = {key for key, count in starts.items() if count > 1}
        assert all(q == victim_queue for q, _ in duplicates), duplicates
        assert all(first_start[key] < killed_at + 0.5 for key in duplicates)
        bound = 12 * 2 * 2 + 50  # concurrency x workers, twice (running, then unacknowledged), + a window
        assert len(duplicates) <= bound

        # Time to resume: from the kill to the end of the first job fetched after it (from the heir, then)
        # on that queue. A record's started_at is its last delivery's fetch, finished_at its finish.
        infos = [job.info_sync() for job in jobs if job.queue == victim_queue]
        resumed = min(
            info.finished_at.timestamp()
            for info in infos
            if info.started_at and info.finished_at and info.started_at.timestamp() > killed_at
        )
        print(
            f"\nmaster killed mid-run: failover {failover_s:.2f}s, "
            f"time to resume {resumed - killed_at:.2f}s, "
            f"{len(duplicates)} jobs ran twice (bound {bound}), heir port {heir.port}"
        )
        assert resumed - killed_at < 20
        workers.stop_all()
        assert all(w.proc.returncode == 0 for w in workers.started), workers.logs()
    finally:
        if workers is not None:
            workers.stop_all()
        rq.close()


def test_a_worker_on_queues_of_three_masters_wakes_at_once(
    redis_cluster: Cluster, tmp_path: Path, record_dir: Path
) -> None:
    cluster = redis_cluster
    prefix = f"t{uuid.uuid4().hex[:8]}"
    queues = queues_on_distinct_masters(cluster, prefix, 3)
    rq = build(cluster.url, prefix, queues[0], None)
    workers = start_workers(cluster, prefix, queues, tmp_path, record_dir, count=1)
    try:
        work = rq.get_task("cf.work")
        # The worker is up and blocked on its three wake lists once a first job per queue has run.
        for i, q in enumerate(queues):
            work.with_options(queue=q).delay(q, -1 - i, 0)
        wait_until(lambda: len(events(record_dir, "done")) == 3, 30, "the worker to start", workers.logs)
        delays = []
        for i in range(50):
            q = queues[i % 3]
            time.sleep(0.05)  # the worker is idle again, blocked
            work.with_options(queue=q).delay(q, i, 0)
            returned = time.time()
            started = wait_until(
                lambda n=i: [at for e, _, m, at in read_records(record_dir) if e == "start" and m == n],
                10,
                f"job {i} to start",
                workers.logs,
                every=0.005,
            )
            delays.append(started[0] - returned)
        median = statistics.median(delays)
        print(
            f"\nwake on 3 masters: enqueue returned -> job started, median {median * 1000:.2f} ms, "
            f"max {max(delays) * 1000:.2f} ms"
        )
        assert median < 0.02
    finally:
        workers.stop_all()
        rq.close()


class Producer(threading.Thread):
    """Enqueues one job at a time until stopped. An enqueue that raises RedisUnavailable was not
    acknowledged: the producer goes on with a new job number (so that the test can tell whether a refused
    enqueue left a job behind anyway)."""

    def __init__(self, rq: RedisQ, queue: str, first: int) -> None:
        super().__init__(daemon=True)
        self.rq, self.queue, self.next = rq, queue, first
        self.acknowledged: dict[int, str] = {}  # job number -> job id
        self.refused: list[int] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def run(self) -> None:
        work = self.rq.get_task("cf.work").with_options(queue=self.queue)
        while not self.stop.is_set():
            n, self.next = self.next, self.next + 1
            try:
                self.acknowledged[n] = work.delay(self.queue, n, 0.01).id
            except RedisUnavailable:
                self.refused.append(n)
                time.sleep(0.01)
            except BaseException as exc:  # the test reports it
                self.errors.append(exc)
                return
            time.sleep(0.003)


def keys_in_slot(cluster: Cluster, slot: int) -> dict[int, int]:
    """How many keys of the slot each live master holds, by port."""
    return {node.port: node.command("CLUSTER", "COUNTKEYSINSLOT", slot) for node in cluster.live}


@pytest.mark.parametrize("binary", list(binaries().values()), ids=list(binaries()))
def test_a_queue_whose_slot_moves_mid_run_loses_no_acknowledged_job(
    binary: str, tmp_path: Path, record_dir: Path
) -> None:
    with start_cluster(binary, masters=3) as cluster:
        prefix = f"t{uuid.uuid4().hex[:8]}"
        queue = f"q{uuid.uuid4().hex[:6]}"
        slot = key_slot(queue.encode())
        first_owner = cluster.master_for_slot(slot)
        rq = build(cluster.url, prefix, queue, None)
        workers: Workers | None = None
        producer = Producer(rq, queue, first=100_000)
        try:
            work = rq.get_task("cf.work")
            jobs = rq.enqueue_many_sync(
                [work.with_options(queue=queue).call(queue, i, 0.03) for i in range(1000)]
            )
            workers = start_workers(cluster, prefix, [queue], tmp_path, record_dir, count=2)
            wait_until(lambda: len(events(record_dir, "done")) >= 50, 30, "the run to start", workers.logs)
            producer.start()
            # Twice, to two other masters, in batches of 10 keys: the queue is half-moved most of the time.
            moves = []
            for target in [node for node in cluster.live if node is not first_owner]:
                began = time.monotonic()
                cluster.migrate_slot(slot, target, batch=10, between_batches=lambda: time.sleep(0.005))
                moves.append(time.monotonic() - began)
                assert cluster.master_for_slot(slot) is target
            final = cluster.master_for_slot(slot)
            time.sleep(0.3)  # a few enqueues after the last move
            producer.stop.set()
            producer.join(10)
            assert not producer.errors, producer.errors
            acked = {**{i: job.id for i, job in enumerate(jobs)}, **producer.acknowledged}

            wait_until(
                lambda: unfinished(rq, [queue]) == 0, 60, "every job to finish", workers.logs, every=0.2
            )
            starts = events(record_dir, "start")
            done = events(record_dir, "done")
            assert set(done) == {(queue, n) for n in acked}  # every acknowledged job ran; nothing else did
            assert not any((queue, n) in starts for n in producer.refused)  # a refused enqueue left nothing
            states = Counter(rq.job(job_id).info_sync().state for job_id in acked.values())
            assert states == {"succeeded": len(acked)}, states
            duplicates = sorted(n for (_, n), count in starts.items() if count > 1)

            counts = keys_in_slot(cluster, slot)  # every key of the queue is on its last owner
            assert counts[final.port] > len(acked) / 2
            assert all(count == 0 for port, count in counts.items() if port != final.port), counts
            stats = rq.stats_sync(queue)
            assert (stats.queued, stats.scheduled, stats.active, stats.dead) == (0, 0, 0, 0)
            assert stats.counters.get("enqueued") == len(acked)
            assert stats.counters.get("succeeded") == len(acked)
            listed = rq.jobs_sync(queue, "succeeded", limit=10_000)
            assert len(listed) == stats.succeeded_kept
            assert {info.id for info in listed} <= set(acked.values())
            print(
                f"\nslot moved twice mid-run ({Path(binary).name}): {len(acked)} jobs acknowledged "
                f"({len(producer.acknowledged)} during the moves), {len(producer.refused)} enqueues refused, "
                f"{len(duplicates)} ran twice; the moves took {', '.join(f'{m:.2f}s' for m in moves)}"
            )
            assert len(duplicates) <= 20, duplicates
            workers.stop_all()
            assert all(w.proc.returncode == 0 for w in workers.started), workers.logs()
        finally:
            producer.stop.set()
            if workers is not None:
                workers.stop_all()
            rq.close()
