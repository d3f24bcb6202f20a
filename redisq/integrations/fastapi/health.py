"""`/health` as FastAPI routes, with the answers of the ASGI HealthApp (`redisq.admin.health`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from redisq.admin.health import ALLOW, LIVE, HealthAnswers
from redisq.core.client import RedisQ
from redisq.core.health import HealthThresholds
from redisq.integrations.asgi.protocol import LIFECYCLE_KEY

NO_STORE = {"cache-control": "no-store"}


def _readiness(answers: HealthAnswers) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def readiness(request: Request) -> JSONResponse:
        status, body = await answers.readiness(request.scope.get("state", {}).get(LIFECYCLE_KEY))
        return JSONResponse(dict(body), status_code=status, headers=NO_STORE)

    return readiness


def health_endpoint(
    rq: RedisQ, *, queues: Sequence[str] | None = None, limits: HealthThresholds | None = None
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """Readiness of this process: `app.add_api_route("/health", health_endpoint(rq), methods=["GET",
    "HEAD"])` (load balancers probe with HEAD); 200 when ready, else 503. `health_router` has every route."""
    return _readiness(HealthAnswers(rq, queues=queues, limits=limits))


def health_router(
    rq: RedisQ, *, queues: Sequence[str] | None = None, limits: HealthThresholds | None = None
) -> APIRouter:
    """`app.include_router(health_router(rq), prefix="/health")`: readiness at `/health` and
    `/health/ready`, liveness at `/health/live`, the queues' health at `/health/queues` (for monitoring:
    `queues` and `limits` set its verdict). GET and HEAD; OPTIONS lists them."""
    answers = HealthAnswers(rq, queues=queues, limits=limits)
    router = APIRouter(tags=["health"])
    not_ready: dict[int | str, dict[str, Any]] = {503: {"description": "not ready: the failing checks"}}
    failing: dict[int | str, dict[str, Any]] = {503: {"description": "the failing checks"}}
    readiness = _readiness(answers)

    async def liveness() -> JSONResponse:
        return JSONResponse(LIVE, headers=NO_STORE)

    async def queues_health() -> JSONResponse:
        status, body = await answers.queues_health()
        return JSONResponse(dict(body), status_code=status, headers=NO_STORE)

    async def options() -> Response:
        return Response(status_code=204, headers={"allow": ALLOW})

    endpoints: list[
        tuple[str, Callable[..., Awaitable[Response]], dict[int | str, dict[str, Any]] | None]
    ] = [
        ("", readiness, not_ready),
        ("/ready", readiness, not_ready),
        ("/live", liveness, None),
        ("/queues", queues_health, failing),
    ]
    for path, endpoint, responses in endpoints:
        # One route per method: with GET and HEAD on one route, FastAPI gives both one operation id.
        router.add_api_route(path, endpoint, methods=["GET"], responses=responses)
        router.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)
        router.add_api_route(path, options, methods=["OPTIONS"], include_in_schema=False)
    return router
