"""Test harness: one real Redis server per session, and per-test key prefixes and queue names.

With REDISQ_TEST_URL set, the suite uses that server instead and never flushes it: every key a test
writes lives under its own random prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from redisq import RedisQ, Worker, WorkerSettings
from redisq.core.embedded import EmbeddedServer, free_port, start_embedded

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


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedServer | None) -> str:
    return redis_server.url if redis_server is not None else os.environ["REDISQ_TEST_URL"]


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
