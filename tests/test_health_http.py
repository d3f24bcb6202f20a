"""The health routes over HTTP on every adapter: readiness of this process, the queues' health, liveness.

Readiness must answer for the process that serves it (issue 11): a stopped worker tier or a queue's
backlog must not take every web process out of a load balancer, a hung Redis must be a 503 within the
health budget (not a probe timeout), and anonymous callers learn nothing but the status and the names of
the failing checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from a2wsgi import WSGIMiddleware
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.routing import Route

from redisq import HealthThresholds, RedisQ
from redisq.core.embedded import free_port, start_embedded
from redisq.flask import RedisQ as FlaskRedisQ
from redisq.integrations.asgi import HealthApp, RedisQMiddleware
from redisq.integrations.fastapi import health_endpoint, health_router

from .asgikit import lifespan
from .conftest import FAST, own_server
from .test_asgi import client_for

FLAVORS = ("starlette", "fastapi", "flask")
READY = {"status": "ready", "failing": []}


def health_app(flavor: str, rq: RedisQ, **options: Any) -> Any:
    """The health routes at /health of a new app of this flavour, on this client."""
    if flavor == "starlette":
        health = HealthApp(rq, **options)
        return Starlette(routes=[Route("/health", health), Route("/health/{check}", health)])
    if flavor == "fastapi":
        app = FastAPI()
        app.include_router(health_router(rq, **options), prefix="/health")
        return app
    flask = Flask("health")
    FlaskRedisQ(flask, client=rq)  # /health by default
    return WSGIMiddleware(flask)


@contextlib.asynccontextmanager
async def serving(flavor: str, rq: RedisQ, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(health_app(flavor, rq, **options)) as client:
        yield client


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_readiness_answers_for_this_process_not_for_the_queues(
    flavor: str, rq: RedisQ, queue: str
) -> None:
    """A job waits and no worker runs (the worker tier is stopped): every web process stays ready; the
    queues' route, for monitoring, says which check fails, and nothing more."""

    @rq.task(name="health.noop")
    async def noop() -> None: ...

    await noop.enqueue()
    async with serving(flavor, rq) as client:
        for path in ("/health", "/health/ready"):
            ready = await client.get(path)
            assert (ready.status_code, ready.json()) == (200, READY), path
            assert ready.headers["cache-control"] == "no-store"
        queues = await client.get("/health/queues")
        assert queues.status_code == 503
        assert queues.json() == {"status": "failing", "failing": [f"queue_workers:{queue}"]}  # no details
        live = await client.get("/health/live")
        assert (live.status_code, live.json()) == (200, {"status": "alive"})


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_head_and_options_on_every_health_route(flavor: str, rq: RedisQ) -> None:
    async with serving(flavor, rq) as client:
        for path in ("/health", "/health/ready", "/health/live", "/health/queues"):
            head = await client.head(path)
            assert (head.status_code, head.content) == (200, b""), path
            options = await client.options(path)
            assert options.status_code in (200, 204), path
            assert {"GET", "HEAD"} <= {m.strip() for m in options.headers["allow"].split(",")}, path
        assert (await client.post("/health")).status_code == 405


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_frozen_redis_is_a_503_within_the_health_budget(flavor: str, prefix: str) -> None:
    """SIGSTOP: a hung primary accepts connections and never answers. Each probe must still be answered,
    well under Kubernetes' 1 s default probe timeout, and say nothing of where Redis is."""
    with own_server() as server:
        rq = RedisQ(server.url, prefix=prefix, health_timeout_s=0.3)
        try:
            async with serving(flavor, rq) as client:
                assert (await client.get("/health")).json() == READY  # connections are open
                assert server.process is not None
                os.kill(server.process.pid, signal.SIGSTOP)
                for path in ("/health", "/health/ready"):
                    started = time.monotonic()
                    frozen = await client.get(path)
                    elapsed = time.monotonic() - started
                    assert (frozen.status_code, frozen.json()) == (
                        503,
                        {"status": "unavailable", "failing": ["redis"]},
                    )
                    assert elapsed < 0.9, f"{path} took {elapsed:.2f}s"
                assert "127.0.0.1" not in (await client.get("/health")).text
                started = time.monotonic()
                queues = await client.get("/health/queues")
                assert (queues.status_code, queues.json()["failing"]) == (503, ["redis"])
                assert time.monotonic() - started < 2.5  # five times the budget: it reads more
                assert (await client.get("/health/live")).status_code == 200
                os.kill(server.process.pid, signal.SIGCONT)
                for _ in range(50):
                    if (await client.get("/health")).status_code == 200:
                        break
                    await asyncio.sleep(0.1)
                assert (await client.get("/health")).json() == READY
        finally:
            await rq.aclose()


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_readiness_turns_503_when_redis_stops_and_200_when_it_is_back(flavor: str, prefix: str) -> None:
    port = free_port()
    server = start_embedded(port=port)
    rq = RedisQ(server.url, prefix=prefix)
    try:
        async with serving(flavor, rq) as client:
            assert (await client.get("/health")).status_code == 200
            server.stop()
            down = await client.get("/health")
            assert (down.status_code, down.json()) == (503, {"status": "unavailable", "failing": ["redis"]})
            assert (await client.get("/health/live")).status_code == 200  # liveness needs no Redis
            server = start_embedded(port=port)
            for _ in range(50):
                if (await client.get("/health")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert (await client.get("/health")).status_code == 200
    finally:
        await rq.aclose()
        server.stop()


async def test_readiness_is_503_while_draining(rq: RedisQ) -> None:
    app = FastAPI()
    app.add_api_route("/health", health_endpoint(rq), methods=["GET", "HEAD"])
    served = RedisQMiddleware(app, redisq=rq)
    async with lifespan(served), client_for(served) as client:
        assert (await client.get("/health")).json() == READY
        assert (await client.head("/health")).status_code == 200
        served.lifecycle.draining = True  # what the lifespan shutdown message sets first
        draining = await client.get("/health")
    assert (draining.status_code, draining.json()) == (
        503,
        {"status": "unavailable", "failing": ["draining"]},
    )


async def test_readiness_follows_the_embedded_workers(rq: RedisQ) -> None:
    """With embedded workers, one that ended (stopped, or failed: tests/test_redis_setups.py fails one for
    real) makes this process unready: it would take jobs that nobody here runs."""
    health = HealthApp(rq)
    app = Starlette(routes=[Route("/health", health)])
    served = RedisQMiddleware(app, redisq=rq, workers=1, worker_settings=FAST)
    async with lifespan(served), client_for(served) as client:
        assert (await client.get("/health")).json() == READY
        served.lifecycle.workers[0].stop()  # ends its run: as a crash would, without a fault to inflict
        for _ in range(50):
            if (await client.get("/health")).status_code == 503:
                break
            await asyncio.sleep(0.05)
        stopped = await client.get("/health")
        assert (stopped.status_code, stopped.json()) == (
            503,
            {"status": "unavailable", "failing": ["workers"]},
        )


@pytest.mark.parametrize("flavor", ["starlette", "fastapi"])
async def test_the_queues_route_follows_the_limits_given(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="health.backlog")
    async def noop() -> None: ...

    limits = HealthThresholds(require_workers=False, max_backlog=3)
    async with serving(flavor, rq, queues=[queue], limits=limits) as client:
        assert (await client.get("/health/queues")).json() == {"status": "ok", "failing": []}
        await rq.enqueue_many([noop.call() for _ in range(4)])
        over = await client.get("/health/queues")
        assert (over.status_code, over.json()["failing"]) == (503, [f"queue_backlog:{queue}"])
        assert (await client.get("/health")).status_code == 200
    if flavor == "fastapi":
        app = FastAPI()
        app.include_router(health_router(rq), prefix="/health")
        async with client_for(app) as client:
            paths = (await client.get("/openapi.json")).json()["paths"]
        assert {"/health", "/health/live", "/health/queues"} <= set(paths)
