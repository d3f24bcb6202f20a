"""redisq on a Sentinel-run master (`redis+sentinel://s1,s2,s3/service`), through real sentinels.

The basics: the whole API through the sentinels' URL, with their own password and a database in the path.
The failovers: a producer keeps enqueueing and an in-process worker keeps running jobs while the sentinels
promote the replica (SENTINEL FAILOVER, then a SIGKILLed master). Clients must find the new master by
themselves. Every acknowledged enqueue (one that returned) must run, with `Settings.replica_acks=1`; with
the default 0, replication is asynchronous and the run measures what is lost (printed, see the report).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import redis
import redis.asyncio

from redisq import RedisQ, RedisUnavailable, Settings, WorkerSettings
from redisq.core.backend import AsyncBackend
from redisq.core.errors import ConfigurationError, WriteNotReplicated
from redisq.core.redis_errors import redisq_errors
from redisq.core.worker.wakeups import WakeWaiter

from .conftest import own_server, running_worker
from .topologies import SentinelGroup, binaries, start_sentinel_group

# One binary: the failover runs are the slow part of the suite, and the launcher's own tests already run
# Sentinel on every binary (test_topologies.py).
BINARY = binaries().get("redis") or binaries()["valkey"]
WORKER = WorkerSettings(
    concurrency=8, lease_s=3.0, sweep_every_s=0.3, heartbeat_every_s=1.0, shutdown_grace_s=5.0,
    max_idle_block_s=0.3,
)  # fmt: skip


def names() -> tuple[str, str]:
    return f"t{uuid.uuid4().hex[:10]}", f"q-{uuid.uuid4().hex[:6]}"


async def test_the_whole_api_runs_through_sentinels_that_require_a_password() -> None:
    prefix, queue = names()
    with start_sentinel_group(BINARY, replicas=1, sentinel_password="s3cret pass") as group:
        hosts = ",".join(f"127.0.0.1:{port}" for port in group.sentinel_ports)
        url = f"redis+sentinel://{hosts}/{group.service}/3?sentinel_password=s3cret+pass"
        rq = RedisQ(url, prefix=prefix, default_queue=queue)

        @rq.task
        async def add(a: int, b: int) -> int:
            return a + b

        try:
            job = await add.enqueue(2, 3)
            assert (await rq.stats(queue)).queued == 1
            async with running_worker(rq, WORKER):
                assert await job.result(timeout=10) == 5
                await rq.pause(queue)
                paused = await add.enqueue(10, 20)
                await asyncio.sleep(0.8)  # two idle blocks: a paused queue is not served
                assert (await paused.info()).state.value == "queued"
                await rq.resume(queue)
                assert await paused.result(timeout=10) == 30
                health = await rq.health([queue])
                assert health.ok and health.redis_ok, health.reasons
                assert [q.workers for q in health.queues] == [1]
            stats = await rq.stats(queue)
            assert (stats.queued, stats.counters.get("succeeded")) == (0, 2)
            assert rq.health_sync([queue]).redis_ok
            later = add.delay(1, 1)  # the sync API, through its own pool
            assert later.info_sync().state.value == "queued"
            assert rq.stats_sync(queue).queued == 1
        finally:
            await rq.aclose()
            rq.close()
        with redis.Redis(port=group.master_port(), db=3) as db3, redis.Redis(port=group.master_port()) as db0:
            assert db3.keys(f"{prefix}:*") and not db0.keys(f"{prefix}:*")  # the path's database

        wrong = RedisQ(url.replace("s3cret+pass", "wrong"), prefix=prefix, default_queue=queue)
        try:
            with pytest.raises(RedisUnavailable):
                await wrong.stats(queue)
        finally:
            await wrong.aclose()


def test_replica_acks_is_refused_on_a_cluster_and_checked() -> None:
    with pytest.raises(ConfigurationError, match="replica_acks is not supported on a Redis Cluster"):
        RedisQ("redis+cluster://127.0.0.1:7000", replica_acks=1)
    with pytest.raises(ConfigurationError, match="replica_acks"):
        RedisQ("redis://127.0.0.1:7000", replica_acks=-1)
    assert RedisQ("redis://127.0.0.1:7000", replica_acks=0).settings.replica_acks == 0


async def test_an_enqueue_that_replicas_do_not_confirm_raises_and_says_the_job_may_exist() -> None:
    prefix, queue = names()
    with start_sentinel_group(BINARY, replicas=1) as group:
        rq = RedisQ(group.url, prefix=prefix, default_queue=queue, replica_acks=2, replica_ack_timeout_ms=100)
        confirmed = RedisQ(group.url, prefix=prefix, default_queue=queue, replica_acks=1)
        for client in (rq, confirmed):

            @client.task(name="noop")
            async def noop(n: int) -> int:
                return n

        try:
            await confirmed.get_task("noop").enqueue(0)  # one replica confirms: returns
            for attempt in (rq.get_task("noop").enqueue(1), rq.enqueue_many([rq.get_task("noop").call(2)])):
                with pytest.raises(WriteNotReplicated, match="may exist on the master and are not confirmed"):
                    await attempt
            with pytest.raises(RedisUnavailable, match="1 of the 2 replicas"):
                rq.get_task("noop").delay(3)
            # Written on the master all the same: the error says "may exist", and here they do.
            assert (await rq.stats(queue)).queued == 4
        finally:
            await rq.aclose()
            await confirmed.aclose()
            rq.close()


# ---- failover during a run ----------------------------------------------------------------------------


@dataclass
class Run:
    """One failover run: what the producer was told and what the worker ran, by job number."""

    acked: dict[int, float] = field(default_factory=dict)  # n -> when its enqueue returned
    refused: int = 0  # enqueues that raised RedisUnavailable (WriteNotReplicated included)
    runs: collections.Counter[int] = field(default_factory=collections.Counter)
    finished_at: dict[int, float] = field(default_factory=dict)  # n -> when it first finished
    keys: dict[int, str] = field(default_factory=dict)  # n -> its record's key
    # Acknowledged jobs whose record the final master lacks or does not have as succeeded: those that
    # ran, on a demoted master, but whose outcome went with its data (a `result()` would not find it).
    unrecorded: list[int] = field(default_factory=list)

    def lost(self) -> list[int]:
        return sorted(set(self.acked) - set(self.runs))

    def read_records(self, master_port: int) -> None:
        with redis.Redis(port=master_port) as conn:
            numbers = sorted(self.acked)
            states = conn.pipeline(transaction=False)
            for n in numbers:
                states.hget(self.keys[n], "state")
            self.unrecorded = [
                n for n, state in zip(numbers, states.execute(), strict=True) if state != b"succeeded"
            ]


@pytest.fixture
async def clients() -> AsyncIterator[list[RedisQ]]:
    made: list[RedisQ] = []
    yield made
    for rq in made:
        await rq.aclose()


async def failover_run(
    group: SentinelGroup, clients: list[RedisQ], fault: str, replica_acks: int, total: int = 1000
) -> tuple[Run, float, float]:
    """Enqueue `total` jobs (paced over a few seconds) while a worker runs them; after the first 300 the
    fault happens. Then, once the old master (if alive) has rejoined as a replica, one more job must run:
    the clients found the new master by themselves. Returns the run, when the fault began and when the
    sentinels named the new master."""
    prefix, queue = names()
    run = Run()
    producer = RedisQ(group.url, prefix=prefix, default_queue=queue, replica_acks=replica_acks)
    consumer = RedisQ(group.url, prefix=prefix, default_queue=queue, replica_acks=replica_acks)
    clients += [producer, consumer]

    async def record(n: int) -> None:
        run.runs[n] += 1
        run.finished_at.setdefault(n, time.monotonic())

    task = producer.task(name="record")(record)
    consumer.task(name="record")(record)
    old = group.master_port()
    fault_at = switched_at = 0.0

    async def inject() -> None:
        nonlocal fault_at, switched_at
        fault_at = time.monotonic()
        if fault == "failover":
            await asyncio.to_thread(group.failover, 20)
        else:
            await asyncio.to_thread(group.kill_master)
            await asyncio.to_thread(group.wait_for_new_master, old, 20)
        switched_at = time.monotonic()

    async def enqueue(n: int) -> bool:
        try:
            job = await task.enqueue(n)
        except RedisUnavailable:
            run.refused += 1
            await asyncio.sleep(0.05)
            return False
        run.acked[n] = time.monotonic()
        run.keys[n] = producer.queue_keys(queue).job(job.uid)
        return True

    async with running_worker(consumer, WORKER):
        injected: asyncio.Task[None] | None = None
        n = 0
        deadline = time.monotonic() + 40
        while n < total and time.monotonic() < deadline:
            if n == 300 and injected is None:
                injected = asyncio.create_task(inject())
            if await enqueue(n):
                n += 1
                await asyncio.sleep(0.005)
        assert injected is not None
        await injected
        assert n == total, f"only {n} of {total} enqueued within the run's 40 s"
        await asyncio.to_thread(group.wait_until_settled, 20)
        while not await enqueue(total):
            pass
        settle = time.monotonic() + (15 if replica_acks else 6)
        # A lost job never comes; a late one does (e.g. its lease lapsed while finished on a demoted master).
        while (run.lost() or total not in run.runs) and time.monotonic() < settle:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    assert total in run.runs, "a job enqueued after the failover did not run: the clients did not follow"
    run.read_records(group.master_port())
    return run, fault_at, switched_at


def report(name: str, run: Run, fault_at: float, switched_at: float) -> str:
    """The run in one line. "Resumed": the first job that finished once the sentinels named the new master
    and whose record the new master has (one finished on a demoted master does not count)."""
    kept = set(run.acked) - set(run.unrecorded)
    after = [t for n, t in run.finished_at.items() if t >= switched_at and n in kept]
    resume = f"{min(after) - fault_at:.2f}s" if after else "never"
    duplicates = sum(1 for count in run.runs.values() if count > 1)
    line = (
        f"{name}: {len(run.acked)} acknowledged, {len(run.lost())} of them never ran, "
        f"{len(run.unrecorded)} not recorded as succeeded on the new master, {run.refused} enqueues "
        f"refused, {duplicates} ran twice; the sentinels switched {switched_at - fault_at:.2f}s after the "
        f"fault, jobs resumed on the new master {resume} after it"
    )
    print(line)
    return line


@pytest.mark.parametrize("fault", ["failover", "kill"])
async def test_with_replica_acks_no_acknowledged_job_is_lost_in_a_failover(
    fault: str, clients: list[RedisQ]
) -> None:
    # A killed master leaves its replicas only: two, so that one still confirms after the promotion.
    with start_sentinel_group(BINARY, replicas=1 if fault == "failover" else 2) as group:
        run, fault_at, switched_at = await failover_run(group, clients, fault, replica_acks=1)
    line = report(f"{fault}, replica_acks=1", run, fault_at, switched_at)
    assert not run.lost() and not run.unrecorded, line
    assert len(run.acked) == 1001, line


@pytest.mark.parametrize("fault", ["failover", "kill"])
async def test_without_replica_acks_clients_follow_the_new_master(fault: str, clients: list[RedisQ]) -> None:
    """The measurement without `replica_acks`: acknowledged jobs can be lost (written on the old master
    after the replica's last sync, or while a demoted master still takes writes); how many is printed.
    What must hold: the clients find the new master by themselves and jobs run there."""
    with start_sentinel_group(BINARY, replicas=1) as group:
        run, fault_at, switched_at = await failover_run(group, clients, fault, replica_acks=0)
    line = report(f"{fault}, replica_acks=0", run, fault_at, switched_at)
    assert len(run.acked) == 1001, line


def test_replica_acks_comes_from_the_environment() -> None:
    settings = Settings.from_env({"REDISQ_REPLICA_ACKS": "2", "REDISQ_REPLICA_ACK_TIMEOUT_MS": "250"})
    assert (settings.replica_acks, settings.replica_ack_timeout_ms) == (2, 250)
    assert Settings.from_env({}).replica_acks == 0


async def test_a_master_short_of_replicas_and_a_demoted_one_answer_redis_unavailable() -> None:
    """NOREPLICAS (min-replicas-to-write not met) refuses an enqueue; a BLPOP blocked on a master that
    becomes a replica ends with UNBLOCKED. Both pass by themselves: RedisUnavailable, which callers retry
    and workers back off from."""
    prefix, queue = names()
    with own_server("--min-replicas-to-write", "1") as server:
        rq = RedisQ(server.url, prefix=prefix, default_queue=queue)

        @rq.task
        async def noop() -> None:
            return None

        try:
            with pytest.raises(RedisUnavailable, match="NOREPLICAS"):
                await noop.enqueue()
        finally:
            await rq.aclose()
    with own_server() as master, own_server() as demoted:
        blocking = redis.asyncio.Redis(port=demoted.port)
        try:
            waiting = asyncio.ensure_future(blocking.blpop([f"{prefix}:wake"], timeout=10))
            await asyncio.sleep(0.2)
            with redis.Redis(port=demoted.port) as conn:
                conn.execute_command("REPLICAOF", "127.0.0.1", master.port)
            with pytest.raises(RedisUnavailable, match="UNBLOCKED"), redisq_errors():
                await asyncio.wait_for(waiting, 5)
        finally:
            await blocking.aclose()


# ---- closing while a connection is still being made -----------------------------------------------------


@contextlib.contextmanager
def frozen(group: SentinelGroup) -> Iterator[None]:
    """The sentinels stopped (SIGSTOP): a new connection to the master waits on them to name it."""
    pids = [s.process.pid for s in group.sentinels if s.process is not None]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


async def test_a_closed_wake_waiter_leaves_no_blpop_that_was_still_connecting() -> None:
    """A worker that stops right after its idle BLPOP began (the BLPOP is abandoned, not cancelled: see
    WakeWaiter.wait) closes the blocking client while that BLPOP may still be making its connection: asking
    the sentinels for the master, then the TLS handshake. Closing the pool does not reach a connection
    that is not connected yet; once made, it blocked on the master with nobody left to close it (CI: an
    'unclosed Connection SentinelManagedSSLConnection' warning in a later test)."""
    prefix, queue = names()
    with start_sentinel_group(BINARY, replicas=0, sentinels=1) as group:
        rq = RedisQ(group.url, prefix=prefix, default_queue=queue)
        backend = AsyncBackend(rq.async_client())
        waiter = WakeWaiter(rq.async_client(socket_timeout=30), backend)
        wake = f"{prefix}:{{{queue}}}:wake"
        try:
            with frozen(group):
                stopped = asyncio.get_running_loop().create_future()
                waiting = asyncio.create_task(waiter.wait([wake], 20, stopped))
                await asyncio.sleep(0.3)  # the BLPOP is asking the frozen sentinel for the master
                stopped.set_result(None)
                await asyncio.wait_for(waiting, 5)
                await asyncio.wait_for(waiter.close(), 10)
            # Thawed: a BLPOP left behind would now reach the master and block there.
            with group.server(group.master_port()) as admin:
                deadline = time.monotonic() + 1.5
                while time.monotonic() < deadline:
                    blocked = [c for c in admin.client_list() if c.get("cmd") == "blpop"]
                    assert blocked == [], blocked
                    await asyncio.sleep(0.1)
        finally:
            await backend.aclose()
            await rq.aclose()
