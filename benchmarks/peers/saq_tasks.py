"""SAQ's worker-side module: `saq benchmarks.peers.saq_tasks.settings`."""

from __future__ import annotations

import os
from typing import Any

from saq import Queue

from . import body
from .base import QUEUE


async def noop(ctx: Any, *, index: int, enqueued_at: float = 0.0) -> None:
    await body.run(index, enqueued_at)


def make_queue() -> Queue:
    return Queue.from_url(os.environ["BENCH_REDIS_URL"], name=QUEUE)


# SAQ's defaults (concurrency 10) but for the queue and the functions.
settings = {"queue": make_queue(), "functions": [noop]}
