"""Short imports for Flask apps: `from redisq.flask import RedisQ, enqueue_after_request`."""

from redisq.integrations.flask import FlaskTask, RedisQ, enqueue_after_request

__all__ = ["FlaskTask", "RedisQ", "enqueue_after_request"]
