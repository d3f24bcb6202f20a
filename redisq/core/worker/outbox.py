"""The worker's carrier of final states to the jobs that wait for them (issue 16, workflow_ops.py).

A job that others wait for ends with its state appended to its queue's outbox, in the script that ends it.
The settler asks for a carry as soon as a settle wrote to an outbox (a chain's next step starts within a
round trip or two); every `every_s` the carrier also looks at the outboxes of all the worker's queues,
which picks up what other paths wrote (a cancel, an expiry, a lapsed lease) and what a worker killed
mid-carry left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence

from ..backend import AsyncBackend
from ..errors import CorruptData, RedisUnavailable
from ..keys import QueueKeys
from ..workflow_ops import carry_outboxes

log = logging.getLogger("redisq.worker")


class OutboxCarrier:
    def __init__(
        self,
        backend: AsyncBackend,
        keys_for: Callable[[str], QueueKeys],
        queues: Sequence[str],
        dead_ttl_s: int,
        now_ms: Callable[[], int],
        every_s: float,
    ) -> None:
        self._backend = backend
        self._keys_for = keys_for
        self._queues = list(queues)
        self._dead_ttl_s = dead_ttl_s
        self._now_ms = now_ms
        self._every_s = every_s
        self._asked: set[str] = set()
        self._wake = asyncio.Event()
        self._stopping = False

    def request(self, queues: Iterable[str]) -> None:
        self._asked.update(queues)
        if self._asked:
            self._wake.set()

    def stop(self) -> None:
        """End `run` after one last carry of what was asked (a worker's stop must not wait out `every_s`:
        it did, and every stop of a test's worker took up to a second more)."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._every_s)
            self._wake.clear()
            asked, self._asked = self._asked, set()
            if self._stopping and not asked:
                return
            queues = list(asked) if asked else self._queues
            try:
                await self._backend.run(
                    carry_outboxes(self._keys_for, queues, self._now_ms(), self._dead_ttl_s)
                )
            except RedisUnavailable:
                self._asked |= asked  # the fetch loop reports the outage; carried once Redis is back
            except CorruptData as exc:
                log.error("cannot tell waiting jobs of their dependencies' ends (will retry): %s", exc)
            except Exception:
                log.exception("carrying outbox entries failed (will retry)")
            if self._stopping:
                return
