"""`/health` as FastAPI routes, with the same answers as the ASGI HealthApp."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from redisq.core.client import RedisQ
from redisq.core.stats import HealthThresholds
from redisq.integrations.asgi.protocol import LIFECYCLE_KEY
from redisq.integrations.web import LIVE, readiness_body

NO_STORE = {"cache-control": "no-store"}


def health_endpoint(
    rq: RedisQ, *, queues: Sequence[str] | None = None, limits: HealthThresholds | None = None
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """Readiness: `app.add_api_route("/health", health_endpoint(rq))`; 200 when ready, else 503."""

    async def readiness(request: Request) -> JSONResponse:
        report = await rq.health(queues, limits)
        status, body = readiness_body(report, request.scope.get("state", {}).get(LIFECYCLE_KEY))
        return JSONResponse(body, status_code=status, headers=NO_STORE)

    return readiness


def health_router(
    rq: RedisQ, *, queues: Sequence[str] | None = None, limits: HealthThresholds | None = None
) -> APIRouter:
    """`app.include_router(health_router(rq), prefix="/health")`: `GET /health` (ready), `/health/live`."""
    router = APIRouter(tags=["health"])
    responses: dict[int | str, dict[str, Any]] = {503: {"description": "not ready, with the reasons"}}
    router.add_api_route("", health_endpoint(rq, queues=queues, limits=limits), responses=responses)
    router.add_api_route("/ready", health_endpoint(rq, queues=queues, limits=limits), responses=responses)

    async def liveness() -> JSONResponse:
        return JSONResponse(LIVE, headers=NO_STORE)

    router.add_api_route("/live", liveness)
    return router
