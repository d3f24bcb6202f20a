"""FastAPI integration: thin wrappers on the ASGI one (`pip install 'redisq[fastapi]'`).

app.add_middleware(RedisQMiddleware, redisq=rq, workers=1)
app.include_router(admin_router(rq, auth=require_admin), prefix="/queues")
app.add_api_route("/health", health_endpoint(rq))      # or app.include_router(health_router(rq), ...)

@app.post("/signup")
async def signup(rq: RedisQDep): ...        # Annotated[RedisQ, Depends(get_redisq)]
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
except ModuleNotFoundError as exc:
    from redisq.core.errors import MissingDependency

    raise MissingDependency("the FastAPI integration needs: pip install 'redisq[fastapi]'") from exc

from redisq.integrations.asgi import RedisQMiddleware, enqueue_after_response

from .admin import admin_router
from .dependencies import RedisQDep, get_redisq
from .health import health_endpoint, health_router

__all__ = [
    "RedisQDep",
    "RedisQMiddleware",
    "admin_router",
    "enqueue_after_response",
    "get_redisq",
    "health_endpoint",
    "health_router",
]
