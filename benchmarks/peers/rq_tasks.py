"""RQ's job function. RQ's default Worker runs each job in a forked child that ends with os._exit, so the
adapter sets BENCH_FLUSH_EACH=1 there (record.py)."""

from __future__ import annotations

from . import body


def noop(index: int, enqueued_at: float = 0.0) -> None:
    body.run_sync(index, enqueued_at)
