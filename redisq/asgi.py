"""Short imports for any ASGI app: `from redisq.asgi import RedisQMiddleware, HealthApp, admin_app`."""

from redisq.admin.access import Access, QueueAccess
from redisq.integrations.asgi import HealthApp, RedisQMiddleware, admin_app, enqueue_after_response

__all__ = ["Access", "HealthApp", "QueueAccess", "RedisQMiddleware", "admin_app", "enqueue_after_response"]
