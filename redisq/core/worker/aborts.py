"""Aborting running jobs on this worker (issue 12).

`abort.lua` marks a running job's record and publishes its uid on the abort channel of the worker that
holds it, a shard channel of the job's queue (`{q}:abort:<worker>`, on the node that owns the queue). Each
worker holds one subscription per queue it serves (not a poll per job); the lease renewal
reports marked jobs too, which catches a message lost while the subscription was down. Either way the
job is found here: an `async def` job's task is cancelled (the runner tells that CancelledError from a
shutdown's by the job's abort flag), a `def` job gets the flag (`current_job.get().aborted`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from .. import shard_channels
from ..cluster_io import relearn_slots
from ..context import JobContext
from ..topology import AsyncClient
from .leases import LeaseKeeper

log = logging.getLogger("redisq.worker")

EARLY_KEEP_S = 60.0  # an abort that came before its job was tracked here waits this long for it
EARLY_MAX = 10_000


@dataclass(slots=True)
class _Target:
    job: JobContext
    task: asyncio.Task[object] | None  # the task awaiting an `async def` job; None for a thread's


class Aborts:
    """The running jobs an abort can reach, by uid, and the listener of this worker's abort channel."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._targets: dict[str, _Target] = {}
        # Messages for a uid not tracked yet: a job is fetched and its task created before the runner
        # tracks it, and the listener may run in between.
        self._early: dict[str, float] = {}
        self.requested = 0

    def track(self, uid: str, job: JobContext, task: asyncio.Task[object] | None) -> None:
        self._targets[uid] = _Target(job, task)
        if self._early.pop(uid, None) is not None:
            # It came before the job started (leased ahead, or fetched as the abort was sent): the flag
            # alone, which the runner reads before it starts the job; a cancellation would land only at
            # the job's first await, after its first lines ran.
            job._abort.is_set = True
            self.requested += 1
            log.info("job %s aborted before it started", job.id)

    def untrack(self, uid: str) -> None:
        """From here on an abort cannot reach the job (its outcome is being decided)."""
        self._targets.pop(uid, None)

    def request(self, uid: str) -> None:
        """On the event loop: stop the job `uid` if it runs here."""
        target = self._targets.get(uid)
        if target is None:
            self._remember(uid)
            return
        if target.job.aborted:
            # The renewal reports it again until the job is settled. A job still tracked here did not
            # stop: its cancellation can be lost (redis-py swallows one that lands while a command of the
            # job's awaits its reply; seen as an abort that never came, under load), so cancel it again.
            if target.task is not None and not target.task.done():
                target.task.cancel()
            return
        target.job._abort.is_set = True
        self.requested += 1
        if target.task is not None:
            log.info("job %s aborted: cancelling it", target.job.id)
            target.task.cancel()
        else:
            log.info("job %s aborted: its thread is told (current_job.get().aborted)", target.job.id)

    def request_threadsafe(self, uid: str) -> None:
        """From the lease thread."""
        with contextlib.suppress(RuntimeError):  # the loop closed: the worker is gone anyway
            self._loop.call_soon_threadsafe(self.request, uid)

    def _remember(self, uid: str) -> None:
        now = time.monotonic()
        if len(self._early) >= EARLY_MAX or (
            self._early and next(iter(self._early.values())) < now - EARLY_KEEP_S
        ):
            self._early = {u: t for u, t in self._early.items() if t >= now - EARLY_KEEP_S}
            while len(self._early) >= EARLY_MAX:
                del self._early[next(iter(self._early))]
        self._early[uid] = now

    async def listen(
        self, client: AsyncClient, channel: str, leases: LeaseKeeper, closing: asyncio.Event
    ) -> None:
        """Hold one subscription to `channel` until `closing`; resubscribe after a lost connection (with a
        growing pause), then have the leases renewed at once: the renewal reports what was sent meanwhile."""
        pause_s = 0.5
        while not closing.is_set():
            pubsub = None
            try:
                pubsub = await shard_channels.subscribe(client, channel, 5.0)  # confirmed: heard from here on
                leases.renew_soon()
                pause_s = 0.5
                while not closing.is_set():
                    message = await _unless_closing(shard_channels.next_message(pubsub, 1.0), closing)
                    if message is not None and message["type"] in ("smessage", b"smessage"):
                        self.request(message["data"].decode())
            except Exception as exc:  # a lost connection: the lease renewal covers the gap
                log.warning("abort subscription lost (resubscribing in %.1fs): %s", pause_s, exc)
                await relearn_slots(client)  # on a Cluster, the channel's node may have failed over
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(closing.wait(), pause_s)
            pause_s = min(pause_s * 2, 5.0)


async def _unless_closing(
    read: Awaitable[dict[str, Any] | None], closing: asyncio.Event
) -> dict[str, Any] | None:
    """The read, or None as soon as the worker closes: waiting out the read's timeout made every worker's
    stop take up to a second (a burst drain in a test, issue 14). The subscription is closed right after."""
    reading = asyncio.ensure_future(read)
    closed = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait((reading, closed), return_when=asyncio.FIRST_COMPLETED)
    finally:
        closed.cancel()
        if not reading.done():
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
    return None if reading.cancelled() else reading.result()
