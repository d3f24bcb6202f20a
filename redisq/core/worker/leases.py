"""Lease renewal from a dedicated OS thread with its own connection.

A job that blocks the event loop (a sync call inside `async def`) or hogs the GIL in a thread must not
let its lease lapse while the worker lives (issue 2, DESIGN rule 3): renewing from the event loop could
be starved; a thread of its own is switched to by the interpreter at least every few milliseconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..backend import SyncBackend
from ..errors import RedisUnavailable
from ..keys import QueueKeys
from . import protocol

log = logging.getLogger("redisq.worker")


@dataclass(slots=True)
class _Held:
    token: str
    renew_until: float | None  # monotonic; past it (the job overran its timeout) the lease may lapse
    # Its settlement is being written: the finish script deletes the lease, so a renewal racing it finds
    # the lease gone, which is no loss (issue 11: it was reported as one). Renewed until released all the
    # same: while Redis is away, a settlement waits, and its lease must hold.
    settling: bool = False


class LeaseKeeper:
    def __init__(
        self,
        backend: SyncBackend,
        keys: dict[str, QueueKeys],
        lease_ms: int,
        every_s: float,
        now_ms: Callable[[], int],
        on_abort: Callable[[str], None] | None = None,
    ) -> None:
        self._backend = backend
        self._keys = keys
        self._lease_ms = lease_ms
        self._every_s = every_s
        self._held: dict[tuple[str, str], _Held] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._soon = threading.Event()  # renew now, not at the next tick
        # Told (from this thread) the uid of each held job that a renewal found marked for abort: the
        # backstop for an abort message lost while the worker's subscription was down.
        self._on_abort = on_abort
        self._now_ms = now_ms  # the client's clock: deadlines on the clock that fetch and sweep use
        self._thread = threading.Thread(target=self._run, name="redisq-leases", daemon=True)
        self.renewals = 0

    def hold(self, queue: str, uid: str, token: str, renew_until: float | None) -> None:
        with self._lock:
            self._held[(queue, uid)] = _Held(token, renew_until)

    def hold_fetched(self, deliveries: Iterable[protocol.Delivery]) -> None:
        """Renew these from now on, unbounded until the runner bounds each by its task's timeout (`hold`)."""
        with self._lock:  # once per batch, as in settling and release: not three times a job
            for d in deliveries:
                self._held[(d.queue, d.uid)] = _Held(d.token, None)

    def settling(self, deliveries: Iterable[protocol.Delivery]) -> None:
        """Their settlements are about to be written (by the settler)."""
        with self._lock:
            for d in deliveries:
                held = self._held.get((d.queue, d.uid))
                if held is not None and held.token == d.token:
                    held.settling = True

    def release(self, deliveries: Iterable[protocol.Delivery]) -> None:
        """Stop renewing these deliveries. Keyed by token: a late outcome of an earlier delivery of the same
        job must not drop the hold of its current delivery on this worker."""
        with self._lock:
            for d in deliveries:
                held = self._held.get((d.queue, d.uid))
                if held is not None and held.token == d.token:
                    del self._held[(d.queue, d.uid)]

    def start(self) -> None:
        self._thread.start()

    def renew_soon(self) -> None:
        """Renew at once (the abort subscription came back: an abort sent meanwhile is found now)."""
        self._soon.set()

    def stop(self) -> None:
        self._stop.set()
        self._soon.set()
        self._thread.join(timeout=5)
        self._backend.close()

    def _run(self) -> None:
        while True:
            self._soon.wait(self._every_s)
            self._soon.clear()
            if self._stop.is_set():
                return
            try:
                self.renew_once()
            except RedisUnavailable as exc:
                log.warning("could not renew leases (will retry): %s", exc)
            except Exception:
                log.exception("lease renewal failed (will retry)")

    def renew_once(self) -> None:
        now = time.monotonic()
        with self._lock:
            held = [
                (q, uid, h.token)
                for (q, uid), h in self._held.items()
                if h.renew_until is None or h.renew_until > now
            ]
        if not held:
            return
        deadline_ms = self._now_ms() + self._lease_ms
        lost, aborted = self._backend.run(protocol.renew(self._keys, held, deadline_ms))
        self.renewals += 1
        if aborted and self._on_abort is not None:
            for uid in aborted:
                self._on_abort(uid)
        if not lost:
            return
        sent = {uid: (q, token) for q, uid, token in held}
        with self._lock:
            for uid in lost:
                # Released meanwhile, or held again under a newer token, is not this loss.
                queue, token = sent[uid]
                current = self._held.get((queue, uid))
                # Being settled: whether the settlement already landed or the lease really lapsed, the
                # settler learns which from the finish script (a stale settlement) and says so.
                if current is not None and current.token == token and not current.settling:
                    del self._held[(queue, uid)]
                    log.warning(
                        "lease of job %s:%s was lost (it lapsed and was recovered elsewhere); its "
                        "outcome here will be ignored",
                        queue,
                        uid,
                    )
