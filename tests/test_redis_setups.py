"""Redis set up in ways that lose jobs or break calls, on real servers of their own (issue 11).

An evicting `maxmemory-policy`, a user without a permission redisq needs (and one with exactly the rights
the README's ACL rule grants), a read-only replica, and a node of a Redis Cluster given as a plain URL:
each must be reported clearly and lose nothing, never fail a call that wrote its job, never loop.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot
from starlette.applications import Starlette
from starlette.routing import Route

from redisq import (
    HealthThresholds,
    JobState,
    RedisPermissionDenied,
    RedisQ,
    RedisUnavailable,
    UnsupportedRedis,
)
from redisq.core import acl
from redisq.core.embedded import EmbeddedServer, free_port, start_embedded
from redisq.integrations.asgi import HealthApp, RedisQMiddleware

from .asgikit import lifespan
from .conftest import FAST, own_server, running_worker
from .faultkit import scan_prefix
from .test_asgi import client_for

ROOT = Path(__file__).resolve().parent.parent


def url_for(server: EmbeddedServer, user: str, password: str) -> str:
    return f"redis://{user}:{password}@127.0.0.1:{server.port}/0"


def add_user(server: EmbeddedServer, user: str, *rules: str) -> str:
    admin = redis.Redis.from_url(server.url)
    admin.execute_command("ACL", "SETUSER", user, "on", ">pw", *rules)
    admin.close()
    return url_for(server, user, "pw")


# ---- maxmemory-policy -----------------------------------------------------------------------------------


async def test_an_evicting_policy_is_logged_at_start_and_fails_the_queues_health(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """662 of 1,000 acknowledged jobs were evicted silently under allkeys-lru, and health said ok."""
    with own_server("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru") as server:
        rq = RedisQ(server.url, prefix=prefix)

        @rq.task(queue="evictable")
        async def noop() -> None: ...

        try:
            with caplog.at_level(logging.ERROR, logger="redisq"):
                await noop.enqueue()  # a client's first enqueue reads the policy
            assert ["allkeys-lru" in r.getMessage() for r in caplog.records if r.name == "redisq"] == [True]

            report = await rq.health(limits=HealthThresholds(require_workers=False))
            assert not report.ok and report.failing == ["redis_eviction"]
            assert report.maxmemory_policy == "allkeys-lru"
            assert "noeviction" in report.reasons[0] and "allow_eviction" in report.reasons[0]

            caplog.clear()
            with caplog.at_level(logging.ERROR, logger="redisq"):
                async with running_worker(rq, FAST):  # a worker's start reads it too
                    pass
            assert any("allkeys-lru" in r.getMessage() for r in caplog.records)

            app = HealthApp(rq, limits=HealthThresholds(require_workers=False))
            async with client_for(app) as client:
                assert (await client.get("/queues")).json() == {
                    "status": "failing",
                    "failing": ["redis_eviction"],
                }
                assert (await client.get("/")).status_code == 200  # readiness: the process is fine

            accepting = RedisQ(server.url, prefix=prefix, allow_eviction=True)
            assert (await accepting.health(limits=HealthThresholds(require_workers=False))).ok
            await accepting.aclose()
        finally:
            await rq.aclose()


async def test_a_policy_that_cannot_be_read_is_a_warning_not_a_failure(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Managed services disable CONFIG; some users may not run INFO either."""
    with own_server() as server:
        url = add_user(server, "blind", f"~{prefix}:*", f"&{prefix}:*", "+@all", "-info", "-config")
        rq = RedisQ(url, prefix=prefix)
        try:
            with caplog.at_level(logging.WARNING, logger="redisq"):
                check = await rq.check_server()
            assert check.maxmemory_policy is None and check.problems == []
            assert any("could not read" in r.getMessage() for r in caplog.records)
            assert (await rq.health()).ok
            only_config = RedisQ(add_user(server, "noconfig", "~*", "+@all", "-config"), prefix=prefix)
            assert (await only_config.check_server()).maxmemory_policy == "noeviction"  # INFO told
            await only_config.aclose()
        finally:
            await rq.aclose()


# ---- ACL permissions ------------------------------------------------------------------------------------


async def test_a_user_with_exactly_the_documented_rights_runs_everything(prefix: str) -> None:
    with own_server() as server:
        rule = acl.acl_rule(prefix=prefix, user="app", password="pw")
        admin = redis.Redis.from_url(server.url)
        admin.execute_command(*rule.split())
        admin.close()
        rq = RedisQ(url_for(server, "app", "pw"), prefix=prefix)

        @rq.task(queue="acl", retries=1)
        async def double(n: int) -> int:
            return 2 * n

        try:
            jobs = await rq.enqueue_many([double.call(n) for n in range(5)])
            late = await double.with_options(delay_s=0.2).enqueue(10)
            async with running_worker(rq, FAST):
                assert [await j.result(timeout=10) for j in [*jobs, late]] == [0, 2, 4, 6, 8, 20]
            assert (await rq.stats("acl")).counters["succeeded"] == 6
            assert [i.state for i in await rq.jobs("acl", JobState.SUCCEEDED)] == [JobState.SUCCEEDED] * 6
            report = await rq.health()
            assert report.ok and report.maxmemory_policy == "noeviction", report.reasons
            await rq.pause("acl")
            await rq.resume("acl")
            assert await rq.purge("acl", JobState.SUCCEEDED) == 6
        finally:
            await rq.aclose()


async def test_a_user_without_a_needed_permission_is_told_which(prefix: str) -> None:
    with own_server() as server:
        rq = RedisQ(add_user(server, "nozadd", "~*", "&*", "+@all", "-zadd"), prefix=prefix)

        @rq.task(queue="perm")
        async def noop() -> None: ...

        try:
            with pytest.raises(RedisPermissionDenied, match="ZADD") as refused:
                await noop.enqueue()
            assert "ACL rule" in str(refused.value)
            raw = redis.Redis.from_url(server.url)
            assert [k for k in scan_prefix(raw, prefix) if b":job:" in k] == []  # refused before writing
            raw.close()
            report = await rq.health(["perm"])  # never raises
            assert not report.ok and report.failing == ["redis_permissions"]
            assert "zadd" in report.reasons[0].lower()
        finally:
            await rq.aclose()


def test_a_worker_without_a_needed_permission_exits_at_start_with_one_message(prefix: str) -> None:
    """It used to log refusals in a loop; now it names what is missing and exits non-zero at once."""
    with own_server() as server:
        url = add_user(server, "noblpop", "~*", "&*", "+@all", "-blpop")
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", "from redisq.cli import run; run()", "worker", "tests.faultapp:app"],
            cwd=ROOT,
            env={"REDISQ_URL": url, "FAULT_PREFIX": prefix, "FAULT_QUEUE": "perm", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 30
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("redisq: the Redis user may not run") and "BLPOP" in last, done.stderr
    assert done.stderr.count("may not run") == 1, done.stderr


async def test_an_embedded_worker_without_a_permission_makes_the_process_unready(prefix: str) -> None:
    with own_server() as server:
        rq = RedisQ(add_user(server, "noblpop", "~*", "&*", "+@all", "-blpop"), prefix=prefix)
        health = Starlette(routes=[Route("/health", HealthApp(rq))])
        app = RedisQMiddleware(health, redisq=rq, workers=1, worker_settings=FAST)
        async with lifespan(app), client_for(app) as client:
            for _ in range(50):
                answer = await client.get("/health")
                if answer.status_code == 503:
                    break
                await asyncio.sleep(0.05)
            assert answer.json() == {"status": "unavailable", "failing": ["workers"]}


# ---- a read-only replica --------------------------------------------------------------------------------


async def test_a_read_only_replica_is_unavailable_not_an_error(prefix: str) -> None:
    """A demoted master or a replica refuses writes until a failover points clients elsewhere: a passing
    condition (RedisUnavailable, which callers retry), not redis-py's ReadOnlyError."""
    with own_server() as primary, own_server() as replica:
        raw = redis.Redis.from_url(replica.url)
        raw.execute_command("REPLICAOF", "127.0.0.1", primary.port)
        raw.close()
        rq = RedisQ(replica.url, prefix=prefix)

        @rq.task(queue="replica")
        async def noop() -> None: ...

        try:
            with pytest.raises(RedisUnavailable, match=r"READONLY|read only|read-only"):
                await noop.enqueue()
        finally:
            await rq.aclose()


# ---- a Cluster node given as a plain URL --------------------------------------------------------------


def _slot_of(key: str) -> int:
    return int(key_slot(key.encode()))


async def test_a_cluster_node_url_fails_before_writing_anything(prefix: str) -> None:
    """With a node's URL, the queue registry's SADD answered MOVED after the job was written on that
    node: the caller saw an error for a job that existed, and a retry made a duplicate. The registry is
    now written first, so the refusal comes before the job."""
    port_a, port_b = free_port(), free_port()
    cluster = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port")
    # The bus port is given: the default (port + 10000) is out of range for a high ephemeral port.
    bus_a, bus_b = free_port(), free_port()
    a = start_embedded(port=port_a, extra_args=(*cluster, str(bus_a)))
    b = start_embedded(port=port_b, extra_args=(*cluster, str(bus_b)))
    try:
        meta = _slot_of(f"{prefix}:{{meta}}:queues")
        queue = next(f"c{i}" for i in range(100) if _slot_of(f"{{c{i}}}") != meta)
        node_a, node_b = redis.Redis(port=port_a), redis.Redis(port=port_b)
        node_a.execute_command("CLUSTER", "MEET", "127.0.0.1", port_b, bus_b)
        node_a.execute_command("CLUSTER", "ADDSLOTS", *(s for s in range(16384) if s != meta))
        node_b.execute_command("CLUSTER", "ADDSLOTS", meta)
        deadline = time.monotonic() + 20
        while b"cluster_state:ok" not in node_a.execute_command("CLUSTER", "INFO"):
            assert time.monotonic() < deadline, "the cluster did not form"
            await asyncio.sleep(0.1)

        rq = RedisQ(f"redis://127.0.0.1:{port_a}/0", prefix=prefix)

        @rq.task(queue=queue)
        async def noop() -> None: ...

        try:
            with pytest.raises(UnsupportedRedis, match="Cluster"):
                await noop.enqueue()
            assert [k for k in scan_prefix(node_a, prefix) if b":job:" in k] == []
            report = await rq.health()
            assert not report.ok and report.failing == ["redis"]
        finally:
            await rq.aclose()
            node_a.close()
            node_b.close()
    finally:
        a.stop()
        b.stop()
