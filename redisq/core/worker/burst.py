"""`--burst`: a worker that drains its queues and stops (cron-driven runs, tests).

The queues are drained when none has a job queued, parked behind a limit (it runs once the limit has
room) or due now (jobs scheduled for later do not keep the worker), and none has a job running on any
worker (a failed attempt may come back due at once). A paused queue's waiting jobs do not count: no
worker may take them until it is resumed. Each job is always in exactly one of these places or a final
state (every move is one script), so one read of them says it. A job waiting for others (issue 16) is
released by an outbox entry, which leaves the outbox only once the job is queued: a queue whose outbox
holds entries is not drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from ..backend import AsyncBackend
from ..errors import RedisUnavailable
from ..keys import QueueKeys
from ..operation import Command, Op

log = logging.getLogger("redisq.worker")

CHECK_EVERY_S = 0.05  # how often an idle burst worker looks (it polls only while it has nothing to run;
# 0.2 s made every in-process drain of a test (redisq.testing) last 200 ms more than its jobs)


def drained(keys: Sequence[QueueKeys], now_ms: int) -> Op[bool]:
    replies = yield [
        command
        for k in keys
        for command in (
            Command(("ZCARD", k.levels)),  # the priority levels that hold ready jobs
            Command(("ZRANGE", k.scheduled, "-inf", now_ms, "BYSCORE", "LIMIT", 0, 1)),
            Command(("ZCARD", k.active)),
            Command(("EXISTS", k.paused)),
            Command(("ZCARD", k.part("limited"))),  # limits with parked jobs
            Command(("ZCARD", k.queued)),  # the ready jobs of a queue not yet upgraded (issue 15)
            Command(("LLEN", k.outbox)),
        )
    ]
    for i in range(0, len(replies), 7):
        queued, due, active, paused, limited, legacy, outbox = replies[i : i + 7]
        if active or outbox or (not paused and (queued or due or limited or legacy)):
            return False
    return True


async def stop_when_drained(
    backend: AsyncBackend,
    keys: Sequence[QueueKeys],
    busy: Callable[[], bool],
    stop: Callable[[], None],
    closing: asyncio.Event,
    now_ms: Callable[[], int],
) -> None:
    while not closing.is_set():
        if not busy():
            try:
                if await backend.run(drained(keys, now_ms())):
                    log.info("burst: the queues are drained")
                    stop()
                    return
            except RedisUnavailable:
                pass  # the fetch loop reports it
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(closing.wait(), CHECK_EVERY_S)
