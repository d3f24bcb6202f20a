"""Short imports for FastAPI apps: `from redisq.fastapi import RedisQMiddleware, admin_router, ...`."""

from redisq.admin.access import Access, QueueAccess
from redisq.integrations.fastapi import (
    RedisQDep,
    RedisQMiddleware,
    admin_router,
    enqueue_after_response,
    get_redisq,
    health_endpoint,
    health_router,
)

__all__ = [
    "Access",
    "QueueAccess",
    "RedisQDep",
    "RedisQMiddleware",
    "admin_router",
    "enqueue_after_response",
    "get_redisq",
    "health_endpoint",
    "health_router",
]
