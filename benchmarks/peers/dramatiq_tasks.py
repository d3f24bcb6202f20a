"""dramatiq's actors on its RedisBroker: `dramatiq benchmarks.peers.dramatiq_tasks`."""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from . import body
from .base import QUEUE

broker = RedisBroker(url=os.environ["BENCH_REDIS_URL"])
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name="bench.noop", queue_name=QUEUE)
def noop(index: int, enqueued_at: float = 0.0) -> None:
    body.run_sync(index, enqueued_at)
