"""The worker's schedule loop (issue 12): every worker claims the due ticks of its queues' schedules.

Leader-free: each claim is a compare-and-set in one script (schedule_claim.lua), so however many workers
wake for a tick, one writes its job. At start the loop upserts the schedules declared in code for the
worker's queues and removes those of origin "code" that the code no longer declares.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence

from .. import schedule_ops
from ..backend import AsyncBackend
from ..client import RedisQ
from ..errors import CorruptData, RedisUnavailable

log = logging.getLogger("redisq.worker")

MAX_SLEEP_S = 1.0  # a schedule created or changed elsewhere is seen within this (jittered below it)
RETRY_SYNC_S = 1.0


class ScheduleLoop:
    def __init__(
        self, rq: RedisQ, backend: AsyncBackend, queues: Sequence[str], closing: asyncio.Event
    ) -> None:
        self.rq = rq
        self.backend = backend
        self.queues = list(queues)
        self.closing = closing

    async def run(self) -> None:
        while not self.closing.is_set():
            try:
                await self.sync_declared()
                break
            except RedisUnavailable:
                pass  # the fetch loop reports it
            except Exception:
                log.exception("could not write the declared schedules (will retry)")
            await self._sleep(RETRY_SYNC_S)
        while not self.closing.is_set():
            earliest = None
            try:
                earliest = await self.tick()
            except RedisUnavailable:
                pass
            except CorruptData as exc:
                log.error("cannot claim due schedules (will retry): %s", exc)
            except Exception:
                log.exception("claiming due schedules failed (will retry)")
            # Jittered under the bound, so that workers started together do not read in step; but
            # never past the earliest next run, so that a tick is claimed on time.
            delay = MAX_SLEEP_S * random.uniform(0.8, 1.0)
            if earliest is not None:
                delay = min(delay, max(0.0, (earliest - self.rq.now_ms()) / 1000))
            await self._sleep(delay)

    async def sync_declared(self) -> None:
        rq = self.rq
        declared = list(rq.declared_schedules.values())
        changes, removed = await self.backend.run(
            schedule_ops.sync_declared(rq.queue_keys, rq.settings.prefix, declared, self.queues, rq.now_ms())
        )
        for schedule_id, change in changes.items():
            if change != "unchanged":
                log.info("schedule %s %s", schedule_id, change)
        for gone in removed:
            log.warning(
                "removed schedule %s (task %s, queue %s): declared in code before, and no longer",
                gone.id,
                gone.task,
                gone.queue,
            )

    async def tick(self) -> int | None:
        """Claim what is due now; returns the earliest next run (epoch ms) or None."""
        rq = self.rq
        claimed, earliest = await self.backend.run(
            schedule_ops.claim_due(rq.queue_keys, self.queues, rq.now_ms(), rq.settings.result_ttl_s)
        )
        for c in claimed:
            log.info("schedule %s: enqueued %s for its run at %d", c.schedule_id, c.job_id, c.tick_ms)
        return earliest

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)
