"""Lease bookkeeping under races that happen in normal running (issue 11)."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from redisq import RedisQ

from .conftest import FAST, running_worker

# Renewals every 2 ms: one is in flight whenever a settlement is written.
EAGER = dataclasses.replace(FAST, concurrency=16, lease_s=1.0, renew_every_s=0.002)


async def test_a_renewal_racing_a_settlement_is_not_reported_as_a_lost_lease(
    rq: RedisQ, caplog: pytest.LogCaptureFixture
) -> None:
    """The settlement deletes the lease; a renewal sent meanwhile finds it gone. That is no loss: the
    worker used to warn 'lease ... was lost (it lapsed and was recovered elsewhere)' for jobs that had just
    finished normally."""

    @rq.task
    async def quick(n: int) -> int:
        return n

    caplog.set_level(logging.WARNING, logger="redisq")
    jobs = await rq.enqueue_many([quick.call(n) for n in range(1500)])
    async with running_worker(rq, EAGER):
        await jobs[-1].result(timeout=60)
        for job in jobs[:-1]:
            await job.result(timeout=10)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []
    assert (await rq.stats(quick.queue)).counters["succeeded"] == 1500
