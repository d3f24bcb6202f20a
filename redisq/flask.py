"""Short imports for Flask apps: `from redisq.flask import RedisQ, enqueue_after_request`."""

from redisq.admin.access import Access, QueueAccess
from redisq.integrations.flask import FlaskTask, RedisQ, enqueue_after_request

__all__ = ["Access", "FlaskTask", "QueueAccess", "RedisQ", "enqueue_after_request"]
