"""Eager mode (redisq.testing): `enqueue` runs the job at once, in-process, and returns its handle.

The job is enqueued as usual first (the same serialization checks, size limits and unique keys, then
written to Redis), and the queues are drained right after (drain.py), so its record, result and
counters are real: `await job.result()` answers at once. A delayed job is not due yet, so it waits for
`advance` as it would in production; eager mode does not pretend time passed.

Jobs enqueued by a job that eager mode runs are left to the drain already running (a drain inside a
drain would wait for the outer job, which waits for it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from redisq.core import context
from redisq.core.client import RedisQ
from redisq.core.jobs import Job

from .drain import drain, run_blocking


class _EagerRunner:
    def __init__(self, rq: RedisQ, raise_on_failure: bool) -> None:
        self.rq = rq
        self.raise_on_failure = raise_on_failure

    def _queues(self, jobs: list[Job]) -> list[str] | None:
        if context.current_job.get() is not None:
            return None  # enqueued by a job a drain runs: that drain runs it
        return sorted({*self.rq.queues, *(job.queue for job in jobs)})

    async def run(self, jobs: list[Job]) -> None:
        queues = self._queues(jobs)
        if queues is not None:
            await drain(self.rq, queues, raise_on_failure=self.raise_on_failure)

    def run_sync(self, jobs: list[Job]) -> None:
        queues = self._queues(jobs)
        if queues is not None:
            run_blocking(self.rq, lambda: drain(self.rq, queues, raise_on_failure=self.raise_on_failure))


@contextlib.contextmanager
def eager(rq: RedisQ, *, raise_on_failure: bool = True) -> Iterator[RedisQ]:
    """Within the block, every enqueue on `rq` (async or sync, single or bulk) runs the due jobs of its
    queues before it returns. `raise_on_failure` (the default): the enqueue raises what the job raised,
    as calling the task would (the job stays in Redis, retrying or dead as its options say)."""
    previous = rq.eager
    rq.eager = _EagerRunner(rq, raise_on_failure)
    try:
        yield rq
    finally:
        rq.eager = previous
