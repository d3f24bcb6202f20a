"""Celery's app, Redis broker: `celery -A benchmarks.peers.celery_tasks worker`. No result backend is
configured (Celery's default), so nothing is stored per result."""

from __future__ import annotations

import os

from celery import Celery

from . import body

app = Celery("bench", broker=os.environ["BENCH_REDIS_URL"])
app.conf.broker_connection_retry_on_startup = True  # silences a deprecation warning; same behaviour


@app.task(name="bench.noop")
def noop(index: int, enqueued_at: float = 0.0) -> None:
    body.run_sync(index, enqueued_at)
