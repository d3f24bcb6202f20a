"""Batched acknowledgements: one flusher writes every settlement that accumulated since its last write.

No artificial delay: an idle worker acks at once; under load, jobs finish while a write is in flight and
the next write carries them all. While Redis is away, settlements wait here (their leases still renewed)
and are written when it returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from ..backend import AsyncBackend
from ..errors import CorruptData, RedisUnavailable
from ..keys import QueueKeys
from ..limits import QueueLimit
from . import protocol
from .leases import LeaseKeeper

log = logging.getLogger("redisq.worker")


class Settler:
    def __init__(
        self,
        backend: AsyncBackend,
        keys: dict[str, QueueKeys],
        leases: LeaseKeeper,
        dead_ttl_s: int,
        limits: Mapping[str, QueueLimit],
        now_ms: Callable[[], int],
        on_told: Callable[[list[str]], None] = lambda queues: None,
    ) -> None:
        self._backend = backend
        self._keys = keys
        self._limits = limits
        self._leases = leases
        self._dead_ttl_s = dead_ttl_s
        self._now_ms = now_ms  # the client's clock (RedisQ.now_ms), which tests may move
        self._on_told = on_told  # queues whose outbox got entries: the carrier takes them on (outbox.py)
        self._pending: list[protocol.Settlement] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self.stale = 0  # settlements refused because the lease had lapsed

    def add(self, settlement: protocol.Settlement) -> None:
        self._pending.append(settlement)
        self._idle.clear()
        self._wake.set()

    def close(self) -> None:
        """Let `run()` return once nothing is pending (call after `flush`)."""
        self._closed = True
        self._wake.set()

    async def run(self) -> None:
        retry_s = 0.05
        while not (self._closed and not self._pending):
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                self._idle.set()
                continue
            self._leases.settling(s.delivery for s in batch)
            try:
                stale, told = await self._backend.run(
                    protocol.finish(self._keys, batch, self._now_ms(), self._dead_ttl_s, self._limits)
                )
            except (RedisUnavailable, CorruptData) as exc:
                # Kept, with their leases renewed, until written: Redis comes back, or an operator repairs
                # the damaged key that the error names; the jobs then do not run again.
                self._pending = batch + self._pending
                level = logging.WARNING if isinstance(exc, RedisUnavailable) else logging.ERROR
                log.log(level, "could not settle %d jobs (will retry in %.2fs): %s", len(batch), retry_s, exc)
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, 2.0)
                self._wake.set()
                continue
            except Exception:
                # Not a passing outage (a script error, Redis out of memory...): stop renewing these
                # leases so that a sweeper recovers the jobs, rather than holding them active forever.
                log.exception(
                    "could not settle %d jobs; their leases will lapse and they will be retried", len(batch)
                )
                stale, told = [], []
                self.stale += len(batch)
            retry_s = 0.05
            if told:
                self._on_told(told)
            self.stale += len(stale)
            for uid in stale:
                # Its lease lapsed (the job was recovered and may run again elsewhere), or an earlier try
                # of this same write landed before its reply was lost.
                log.warning("the outcome of job %s was not written: its lease was no longer held", uid)
            self._leases.release(s.delivery for s in batch)
            if not self._pending:
                self._idle.set()

    async def flush(self, timeout: float) -> bool:
        """Wait until everything added so far is written; False if that took longer than `timeout`."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True
