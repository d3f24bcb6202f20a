"""Redis Cluster (issue 13), beyond the core and worker modules that conftest runs on it: queues spread
over three masters served by one worker, what health and the server check say of each master, the ACL
rule of a Cluster, and what a Cluster cannot do (a Limit shared across queues) refused before any write.
The fault tests (a master killed, a slot moved mid-run) are in test_cluster_faults.py."""

from __future__ import annotations

import asyncio
import shlex
import uuid
from collections.abc import Iterator

import pytest

from redisq import Limit, RedisQ
from redisq.core import acl
from redisq.core.embedded import find_server_binary
from redisq.core.errors import ConfigurationError, UnsupportedRedis
from redisq.core.job import JobState

from . import readmekit, topologies
from .conftest import FAST, running_worker
from .flaskapp import create_app


def spread_queues(cluster: topologies.Cluster, prefix: str) -> list[str]:
    """Three queue names whose slots are on three different masters."""
    by_master: dict[int, str] = {}
    while len(by_master) < 3:
        name = f"q-{uuid.uuid4().hex[:6]}"
        by_master.setdefault(cluster.master_for_key(f"{prefix}:{{{name}}}:queued").port, name)
    return list(by_master.values())


@pytest.fixture
def cluster_rq(redis_cluster: topologies.Cluster, prefix: str) -> Iterator[RedisQ]:
    rq = RedisQ(redis_cluster.url, prefix=prefix)
    yield rq
    rq.close()


async def test_one_worker_serves_queues_on_three_masters_and_every_listing_spans_them(
    redis_cluster: topologies.Cluster, cluster_rq: RedisQ, prefix: str
) -> None:
    rq = cluster_rq
    queues = spread_queues(redis_cluster, prefix)

    @rq.task(queue=queues[0])
    async def double(n: int) -> int:
        return 2 * n

    try:
        jobs = await rq.enqueue_many([double.with_options(queue=queues[i % 3]).call(i) for i in range(30)])
        async with running_worker(rq, FAST, queues=queues):
            assert [await j.result(timeout=10) for j in jobs] == [2 * i for i in range(30)]
            late = await double.with_options(queue=queues[2]).enqueue(50)  # wakes the idle worker
            assert await late.result(timeout=5) == 100
            report = await rq.health(queues)
        assert report.ok, report.reasons
        assert report.topology == f"cluster {redis_cluster.url.removeprefix('redis+cluster://')}"
        assert report.unreachable_nodes == [] and [q.workers for q in report.queues] == [1, 1, 1]
        assert sorted(await rq.known_queues()) == sorted(queues)
        stats = await rq.stats_many(queues)
        assert [s.counters["succeeded"] for s in stats] == [10, 10, 11]
        assert len(await rq.jobs(queues[2], JobState.SUCCEEDED)) == 11
        assert await rq.purge(queues[1], JobState.SUCCEEDED) == 10
    finally:
        await rq.aclose()


async def test_the_server_check_reads_every_master_and_names_the_one_that_evicts(
    redis_cluster: topologies.Cluster, cluster_rq: RedisQ
) -> None:
    evicting = redis_cluster.live[1]
    evicting.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    try:
        check = await cluster_rq.check_server()
        assert check.maxmemory_policy == "allkeys-lru"
        [problem] = check.problems
        assert f"127.0.0.1:{evicting.port}" in problem.detail
        assert not (await cluster_rq.health([])).ok
    finally:
        evicting.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
        await cluster_rq.aclose()
    assert cluster_rq.check_server_sync().problems == []


def test_a_limit_shared_across_queues_is_refused_on_a_cluster_before_anything_is_written(
    cluster_rq: RedisQ, queue: str
) -> None:
    partner = Limit("partner-api", rate_limit="10/s", shared=True)

    @cluster_rq.task(queue=queue, limits=[partner])
    def call_partner() -> None: ...

    with pytest.raises(ConfigurationError, match="shared across queues"):
        call_partner.delay()
    assert cluster_rq.stats_sync(queue).counters["enqueued"] == 0


async def test_per_queue_limits_hold_on_a_cluster(cluster_rq: RedisQ, queue: str) -> None:
    running, most = 0, 0

    @cluster_rq.task(queue=queue, max_concurrency=2)
    async def held() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1

    try:
        jobs = await cluster_rq.enqueue_many([held.call() for _ in range(12)])
        async with running_worker(cluster_rq, FAST, queues=[queue]):
            for job in jobs:
                await job.result(timeout=10)
        assert most == 2
    finally:
        await cluster_rq.aclose()


async def test_a_user_with_exactly_the_cluster_acl_rule_runs_everything(
    redis_cluster: topologies.Cluster, prefix: str
) -> None:
    user = f"app{uuid.uuid4().hex[:6]}"
    [block] = readmekit.of_kind("acl", "cluster")  # the README's rule, for this test's prefix and user
    rule = (
        block.lines[0]
        .replace("redisq:*", f"{prefix}:*")
        .replace("SETUSER app on >secret", f"SETUSER {user} on >pw")
    )
    for node in redis_cluster.live:  # ACL users are per node
        node.command(*shlex.split(rule))
    url = redis_cluster.url.replace("redis+cluster://", f"redis+cluster://{user}:pw@")
    rq = RedisQ(url, prefix=prefix)
    queues = spread_queues(redis_cluster, prefix)

    @rq.task(queue=queues[0], retries=1)
    async def double(n: int) -> int:
        return 2 * n

    try:
        jobs = await rq.enqueue_many([double.with_options(queue=queues[i % 3]).call(i) for i in range(6)])
        async with running_worker(rq, FAST, queues=queues):
            assert [await j.result(timeout=10) for j in jobs] == [0, 2, 4, 6, 8, 10]
            report = await rq.health(queues)
        assert report.ok and report.maxmemory_policy == "noeviction", report.reasons
        await rq.pause(queues[0])
        await rq.resume(queues[0])
        assert await rq.purge(queues[0], JobState.SUCCEEDED) == 2
    finally:
        await rq.aclose()
        for node in redis_cluster.live:
            node.command("ACL", "DELUSER", user)


async def test_without_the_cluster_commands_a_user_is_told_what_is_missing(
    redis_cluster: topologies.Cluster, prefix: str
) -> None:
    user = f"app{uuid.uuid4().hex[:6]}"
    rule = acl.acl_rule(prefix=prefix, user=user, password="pw")  # the single-server rule
    for node in redis_cluster.live:
        node.command(*shlex.split(rule))
    rq = RedisQ(redis_cluster.url.replace("redis+cluster://", f"redis+cluster://{user}:pw@"), prefix=prefix)
    try:
        with pytest.raises(UnsupportedRedis, match="CLUSTER SLOTS, COMMAND and ASKING"):
            await rq.stats("q")
    finally:
        await rq.aclose()
        for node in redis_cluster.live:
            node.command("ACL", "DELUSER", user)


async def test_a_master_down_is_named_by_the_queues_health_while_readiness_still_answers(prefix: str) -> None:
    binary = find_server_binary()
    assert binary is not None
    with topologies.start_cluster(binary, masters=3) as cluster:
        rq = RedisQ(cluster.url, prefix=prefix)
        try:
            assert (await rq.health([])).ok
            dead = cluster.live[2]
            cluster.kill(dead)
            report = await rq.health([])
            assert not report.ok and report.failing == ["redis"]
            assert report.unreachable_nodes == [f"127.0.0.1:{dead.port}"]
            assert f"127.0.0.1:{dead.port}" in report.reasons[0]
            assert await rq.ping() > 0  # the other masters answer: this process stays ready
        finally:
            await rq.aclose()


async def test_a_flask_app_configured_with_a_cluster_url_runs_its_jobs_there(
    redis_cluster: topologies.Cluster, prefix: str
) -> None:
    app = create_app(REDISQ_URL=redis_cluster.url, REDISQ_PREFIX=prefix)
    rq: RedisQ = app.extensions["redisq"].client
    try:
        assert rq.topology.kind == "cluster"
        response = app.test_client().post("/reports/7")
        assert response.status_code == 202
        job = rq.job(response.get_json()["job"])
        async with running_worker(rq, queues=["reports"]):
            result = await job.result(timeout=5)
        assert result["report"] == 7
    finally:
        await rq.aclose()
