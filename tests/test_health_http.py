"""`/health` over HTTP: liveness, readiness from Redis, workers and backlog, draining; ASGI and FastAPI."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from redisq import HealthThresholds, RedisQ
from redisq.core.embedded import free_port, start_embedded
from redisq.integrations.asgi import HealthApp, RedisQMiddleware
from redisq.integrations.fastapi import health_endpoint, health_router

from .asgikit import lifespan
from .conftest import FAST
from .test_asgi import client_for


async def test_health_app_liveness_and_readiness(rq: RedisQ, queue: str) -> None:
    @rq.task(name="health.noop")
    async def noop() -> None: ...

    await noop.enqueue()
    app = Starlette(routes=[Mount("/ops/health", HealthApp(rq, queues=[queue]))])
    async with client_for(app) as client:
        live = await client.get("/ops/health/live")
        assert live.status_code == 200 and live.json() == {"status": "alive"}
        assert live.headers["cache-control"] == "no-store"
        not_ready = await client.get("/ops/health/")
        assert not_ready.status_code == 503  # a job waits and no worker serves the queue
        assert any("no live worker" in r for r in not_ready.json()["reasons"]), not_ready.json()
        assert (await client.post("/ops/health/")).status_code == 405

    # Routed at exact paths: no redirect from /health to /health/ for a load balancer to trip on.
    health = HealthApp(rq, queues=[queue])
    app_with_worker = Starlette(routes=[Route("/health", health), Route("/health/{check}", health)])
    served = RedisQMiddleware(app_with_worker, redisq=rq, workers=1, worker_settings=FAST)
    async with lifespan(served), client_for(served) as client:
        for _ in range(50):
            ready = await client.get("/health/ready")
            if ready.status_code == 200:
                break
            await asyncio.sleep(0.1)
        body = ready.json()
        assert ready.status_code == 200, body
        assert body["status"] == "ready" and body["redis_ok"] and not body["draining"]
        assert body["redis_latency_ms"] >= 0
        assert (await client.get("/health")).status_code == 200
        assert (await client.head("/health")).content == b""


async def test_readiness_is_503_while_draining(rq: RedisQ) -> None:
    app = FastAPI()
    app.add_api_route("/health", health_endpoint(rq))
    served = RedisQMiddleware(app, redisq=rq)
    async with lifespan(served), client_for(served) as client:
        assert (await client.get("/health")).status_code == 200  # no queues known: nothing to miss
        served.lifecycle.draining = True  # what the lifespan shutdown message sets first
        draining = await client.get("/health")
    assert draining.status_code == 503
    assert draining.json()["draining"] is True
    assert "draining" in " ".join(draining.json()["reasons"])


async def test_readiness_follows_backlog_limits(rq: RedisQ, queue: str) -> None:
    @rq.task(name="health.backlog")
    async def noop() -> None: ...

    app = FastAPI()
    app.include_router(
        health_router(rq, queues=[queue], limits=HealthThresholds(require_workers=False, max_backlog=3)),
        prefix="/health",
    )
    async with client_for(app) as client:
        assert (await client.get("/health")).status_code == 200
        await rq.enqueue_many([noop.call() for _ in range(4)])
        over = await client.get("/health")
        assert over.status_code == 503 and "backlog" in " ".join(over.json()["reasons"])
        assert (await client.get("/health/live")).status_code == 200
        assert "/health/live" in (await client.get("/openapi.json")).json()["paths"]


async def test_readiness_turns_503_when_redis_stops_and_200_when_it_is_back(prefix: str) -> None:
    port = free_port()
    server = start_embedded(port=port)
    rq = RedisQ(server.url, prefix=prefix)
    app = Starlette(routes=[Mount("/health", HealthApp(rq))])
    try:
        async with client_for(app) as client:
            assert (await client.get("/health/")).status_code == 200
            server.stop()
            down = await client.get("/health/")
            assert down.status_code == 503
            assert down.json()["redis_ok"] is False
            assert (await client.get("/health/live")).status_code == 200  # liveness needs no Redis
            server = start_embedded(port=port)
            for _ in range(50):
                if (await client.get("/health/")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert (await client.get("/health/")).status_code == 200
    finally:
        await rq.aclose()
        server.stop()
