"""The worker: `Worker(rq).run()` embedded in a loop, or `redisq worker module:rq` standalone."""

from .worker import Worker

__all__ = ["Worker"]
