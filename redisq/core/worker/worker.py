"""The worker: fetch in batches, run, settle in batches; sweep, heartbeat, drain on stop.

Standalone (`redisq worker`, `run_standalone()`) it owns SIGTERM/SIGINT: the first stops fetching and
drains within the grace period, the second cuts the grace short. Embedded in an app's lifespan it
installs no handlers: the app calls `stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import random
import signal
import socket
import time
import uuid
from collections.abc import Mapping, Sequence

from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import NoBackoff

from .. import acl, codec
from ..backend import AsyncBackend, SyncBackend
from ..client import RedisQ
from ..cluster_io import close_async_client
from ..config import WorkerSettings
from ..context import WorkerContext
from ..errors import ConfigurationError, CorruptData, RedisUnavailable
from ..keys import GlobalKeys, QueueKeys, check_queue_name, make_job_id
from . import protocol
from .aborts import Aborts
from .burst import stop_when_drained
from .leases import LeaseKeeper
from .lookahead import WAIT_MAX_S, Lookahead
from .outbox import OutboxCarrier
from .runner import Runner, error_json
from .scheduler import ScheduleLoop
from .settle import Settler
from .threads import JobThreadPool
from .wakeups import WakeWaiter

log = logging.getLogger("redisq.worker")

MAX_LISTED_JOBS = 100  # running jobs named in a heartbeat (the count is always exact)
SHORT_WAIT_S = 0.2  # waits shorter than this sleep here instead of blocking in Redis


class Worker:
    def __init__(
        self,
        rq: RedisQ,
        queues: Sequence[str] | None = None,
        *,
        concurrency: int | None = None,
        queue_concurrency: Mapping[str, int] | None = None,
        settings: WorkerSettings | None = None,
        burst: bool = False,
    ) -> None:
        """`queue_concurrency` caps the jobs of a queue that this worker runs at once (its other queues
        are served meanwhile); `rq.limit_queue` limits a queue across every worker.
        `burst=True`: stop (exit 0 standalone) once the queues are drained (see burst.py)."""
        base = settings or WorkerSettings()
        if concurrency is not None:
            base = dataclasses.replace(base, concurrency=concurrency)
        self.rq = rq
        self.settings = base
        self.queues = list(queues) if queues else rq.queues  # in priority order: the first is served first
        for name in self.queues:
            check_queue_name(name)
        self.queue_concurrency = dict(queue_concurrency or {})
        for name, cap in self.queue_concurrency.items():
            if name not in self.queues:
                raise ConfigurationError(f"queue_concurrency names {name!r}: this worker does not serve it")
            if not isinstance(cap, int) or cap < 1:
                raise ConfigurationError(f"queue_concurrency of {name!r} must be a positive int, got {cap!r}")
        self._per_queue: dict[str, int] = dict.fromkeys(self.queues, 0)  # running jobs of each queue
        self.id = f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"  # no '/': tokens use it
        rq.freeze(f"worker {self.id}")
        self._keys: dict[str, QueueKeys] = {q: rq.queue_keys(q) for q in self.queues}
        # Leased jobs, started or waiting for a slot (a few leased ahead: lookahead.py); the heartbeat lists
        # the started ones.
        self._running: dict[asyncio.Task[None], protocol.Running] = {}
        self._waiting: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        prefetch = self.settings.prefetch
        self._lookahead = Lookahead(
            self.settings.concurrency, self.settings.concurrency if prefetch is None else prefetch
        )
        self._stopping = asyncio.Event()
        self._closing = asyncio.Event()  # background duties end on it (cancellation can be lost in I/O)
        self._forced = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._idle_wait: asyncio.Future[None] | None = None  # resolved by stop() to end an idle wait
        self._started = False
        self._started_at = time.time()
        self.processed = 0
        self.burst = burst
        # What hooks and tasks see of it.
        self.context = WorkerContext(self.id, tuple(self.queues), concurrency=self.settings.concurrency)

    def __repr__(self) -> str:
        return f"<Worker {self.id} queues={self.queues} concurrency={self.settings.concurrency}>"

    # ---- life cycle -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop fetching and drain; called again, cut the grace period short."""
        if self._stopping.is_set():
            log.warning("second stop request: giving back running jobs now")
            self._forced.set()
        else:
            log.info(
                "stopping: no new jobs; running jobs get %.0fs to finish", self.settings.shutdown_grace_s
            )
            self._stopping.set()
            self._slot_freed.set()  # a fetch loop waiting for a slot wakes, sees the stop and leaves
            if self._idle_wait is not None and not self._idle_wait.done():
                self._idle_wait.set_result(None)

    def run_standalone(self) -> int:
        """Run until SIGTERM/SIGINT in a new event loop; returns the process exit code."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
            await self.run()

        asyncio.run(main())
        return 0

    async def run(self) -> None:
        if self._started:
            raise RuntimeError("a Worker runs once; create a new one")
        self._started = True
        s = self.settings
        # Own connections: a pool for scripts, one for blocking reads, one (sync) for the lease thread.
        self._backend = AsyncBackend(self.rq.async_client())
        try:
            await self._preflight()
        except BaseException:
            await self._backend.aclose()
            raise
        try:
            await self.rq.hooks.worker_started(self.context)  # HookFailed: no job was taken
        except BaseException:
            await self._backend.aclose()
            raise
        self._blocking = self.rq.async_client(socket_timeout=s.max_idle_block_s + 10)
        self._wakeups = WakeWaiter(self._blocking, self._backend)
        # The abort subscription reports its own failures to the listener, which resubscribes after a
        # pause it controls (redis-py's own retries would hide a lost connection).
        self._subscriber = self.rq.async_client(retry=RedisRetry(NoBackoff(), 0))
        aborts = Aborts(asyncio.get_running_loop())
        self._leases = LeaseKeeper(
            SyncBackend(self.rq.sync_client()),
            self._keys,
            int(s.lease_s * 1000),
            s.renew_interval_s,
            on_abort=aborts.request_threadsafe,
            now_ms=self.rq.now_ms,
        )
        self._pool = JobThreadPool(s.concurrency)
        self._runner = Runner(
            self.rq, self._pool, self._leases, s.lease_s, aborts, self.context, self._backend
        )
        carrier = self._carrier = OutboxCarrier(
            self._backend,
            self.rq.queue_keys,
            self.queues,
            self.rq.settings.dead_ttl_s,
            self.rq.now_ms,
            s.sweep_every_s,
        )  # workflows (issue 16)
        self._settler = Settler(
            self._backend, self._keys, self._leases, self.rq.settings.dead_ttl_s, self.rq.queue_limits,
            self.rq.now_ms, carrier.request,
        )  # fmt: skip
        self._leases.start()
        schedules = ScheduleLoop(self.rq, self._backend, self.queues, self._closing)  # issue 12
        duties = [self._settler.run(), self._sweep_loop(), self._heartbeat_loop(), schedules.run()]
        duties.append(carrier.run())
        for queue_keys in self._keys.values():  # a shard channel per queue: each lives on its queue's node
            channel = queue_keys.abort_channel(self.id)
            duties.append(aborts.listen(self._subscriber, channel, self._leases, self._closing))
        if self.burst:
            keys = list(self._keys.values())
            busy = lambda: bool(self._running)  # noqa: E731
            clock = self.rq.now_ms
            duties.append(stop_when_drained(self._backend, keys, busy, self.stop, self._closing, clock))
        helpers = [asyncio.create_task(c) for c in duties]
        log.info("worker %s serving %s with concurrency %d", self.id, ", ".join(self.queues), s.concurrency)
        try:
            await self._fetch_loop()
        finally:
            await self._drain()
            self._closing.set()
            self._settler.close()
            self._carrier.stop()
            _, stuck = await asyncio.wait(helpers, timeout=5)
            for helper in stuck:
                helper.cancel()
            await asyncio.wait(helpers, timeout=5)
            with contextlib.suppress(Exception):  # the fetch loop reports outages
                await self._backend.run(protocol.deregister(GlobalKeys(self.rq.settings.prefix), self.id))
            self._leases.stop()
            self._pool.shutdown()
            await self.rq.hooks.worker_stopped(self.context)
            # The wake waiter first: a BLPOP it ends may hand its token back through the backend, which a
            # closed Cluster client would reopen (and leave open: seen as an unclosed client after a stop).
            await self._wakeups.close()
            await self._backend.aclose()
            await close_async_client(self._subscriber)
            log.info("worker %s stopped after %d jobs", self.id, self.processed)

    async def _preflight(self) -> None:
        """Check what the worker depends on before taking any job: the eviction policy (logged), and the
        Redis user's permissions, which end the worker at once when one is missing (RedisPermissionDenied)
        rather than let it log refusals in a loop or have a script refused half-way. An outage is not
        fatal: the fetch loop waits for Redis to come back."""
        try:
            await self.rq.check_server()
            await self._backend.run(
                acl.preflight(list(self._keys.values()), GlobalKeys(self.rq.settings.prefix))
            )
        except RedisUnavailable as exc:
            log.warning("Redis is unavailable at start (%s); the worker keeps trying", exc)

    # ---- fetching ---------------------------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        backoff_s = 0.1
        s = self.settings
        while not self._stopping.is_set():
            ahead = self._lookahead.jobs()
            free = s.concurrency + ahead - len(self._running)
            # Every slot busy: the jobs leased ahead are topped up half of them at a time (what is left
            # covers the fetch in flight), a batch rather than a fetch per job that ends.
            if free <= 0 or (len(self._running) >= s.concurrency and free < (ahead + 1) // 2):
                # No await between counting and clearing: a job that ends sets the event after this.
                self._slot_freed.clear()
                await self._slot_freed.wait()
                # Let the other jobs that end in this turn of the loop free their slots too, so that
                # one fetch fills them all (without this yield, 20,000 async no-ops drained at 14.6k/s
                # instead of 17k/s: smaller batches, more round trips).
                await asyncio.sleep(0)
                continue
            try:
                next_due, got = await self._fetch(free)
                # stop() during the fetch found no wait to cancel: blocking now would delay shutdown by up
                # to max_idle_block_s (seen as 2 s stops of embedded workers).
                if not got and not self._stopping.is_set():
                    await self._wait_for_work(next_due)
                backoff_s = 0.1
            except Exception as exc:  # an outage, or e.g. Redis refusing writes when out of memory
                delay_s = backoff_s * random.uniform(0.8, 1.2)
                if isinstance(exc, RedisUnavailable):
                    log.warning("Redis unavailable (retrying in %.1fs): %s", delay_s, exc)
                elif isinstance(exc, CorruptData):  # the message says which key; a traceback would not
                    log.error("cannot fetch (retrying in %.1fs): %s", delay_s, exc)
                else:
                    log.exception("fetch failed (retrying in %.1fs)", delay_s)
                await self._sleep_unless(self._stopping, delay_s)
                backoff_s = min(backoff_s * 2, 5.0)

    def _room(self, queue: str) -> int | None:
        """How many more jobs of `queue` this worker may start under its queue_concurrency (None: no cap)."""
        cap = self.queue_concurrency.get(queue)
        return None if cap is None else cap - self._per_queue[queue]

    async def _fetch(self, free: int) -> tuple[int | None, int]:
        s = self.settings
        next_due: int | None = None
        got = 0
        for queue in self.queues:
            room = self._room(queue)
            count = free - got if room is None else min(free - got, room)
            if count <= 0:
                continue
            asked = time.perf_counter()
            due, deliveries = await self._backend.run(
                protocol.fetch(
                    self._keys[queue],
                    self.rq.now_ms(),
                    count,
                    int(s.lease_s * 1000),
                    self.id,
                    s.promote_batch,
                    self.rq.settings.dead_ttl_s,
                    self.rq.queue_limits.get(queue, protocol.NO_LIMIT),
                )
            )
            self._lookahead.fetched(time.perf_counter() - asked)
            if due is not None:
                next_due = due if next_due is None else min(next_due, due)
            self._leases.hold_fetched(deliveries)  # from now: some may wait for a slot
            for d in deliveries:
                running = protocol.Running(make_job_id(d.queue, d.uid), 0.0)
                task = asyncio.create_task(self._process(d, running))
                self._running[task] = running
                self._per_queue[queue] += 1
            got += len(deliveries)
            if got >= free:
                break
        return next_due, got

    async def _wait_for_work(self, next_due_ms: int | None) -> None:
        """Block on the queues' wake lists, at most until the next scheduled job is due."""
        timeout = self.settings.max_idle_block_s
        if next_due_ms is not None:
            timeout = min(timeout, max(0.0, (next_due_ms - self.rq.now_ms()) / 1000))
        if timeout < 0.001:
            return
        # Not the queues this worker is full of (queue_concurrency): their wake is for other workers; one of
        # their jobs ending here ends this wait (_process).
        wake_keys = [self._keys[q].wake for q in self.queues if self._room(q) != 0]
        # A plain future (not a second task per idle cycle: latency, issue 3) that stop() resolves.
        stopped = self._idle_wait = asyncio.get_running_loop().create_future()
        # Every queue is at its cap here (only one of its jobs ending can change that), or the wait is short:
        # Redis times out blocked clients on its own clock (hz 10: every 100 ms), so a BLPOP of 20 ms took
        # up to 100 ms, and a 50/s rate limit ran at 11/s.
        if not wake_keys or timeout < SHORT_WAIT_S:
            try:
                await asyncio.wait((stopped,), timeout=timeout)
            finally:
                self._idle_wait = None
            return
        try:
            await self._wakeups.wait(wake_keys, timeout, stopped)
        finally:
            self._idle_wait = None

    # ---- running ----------------------------------------------------------------------------------

    async def _process(self, d: protocol.Delivery, running: protocol.Running) -> None:
        task: asyncio.Task[None] = asyncio.current_task()  # type: ignore[assignment]
        try:
            if not await self._slot(task):
                self._settler.add(protocol.Settlement(d, "release"))
                return
            try:
                running.started_at = time.time()
                began = time.perf_counter()
                settlement = await self._runner.run(d, running)
                self._lookahead.ran(time.perf_counter() - began)
            finally:
                self._slots.release()
        except asyncio.CancelledError:
            self._settler.add(protocol.Settlement(d, "release"))
        except Exception as exc:  # a bug of ours must not leave the job active forever
            log.exception("internal error running job %s:%s", d.queue, d.uid)
            self._settler.add(protocol.Settlement(d, "retry", error_json(exc), self.rq.now_ms() + 1000))
        else:
            self._settler.add(settlement)
            self.processed += 1
        finally:
            self._running.pop(task, None)
            self._per_queue[d.queue] -= 1
            self._slot_freed.set()
            idle = self._idle_wait
            if d.queue in self.queue_concurrency and idle is not None and not idle.done():
                idle.set_result(None)  # its queue has room again: fetch from it

    async def _slot(self, task: asyncio.Task[None]) -> bool:
        """A slot for a leased job: at once, or (a job leased ahead) once one frees. False when the worker
        stops first, or when no slot freed in WAIT_MAX_S (lookahead.py): the job goes back unrun, without
        spending its attempt."""
        if not self._slots.locked():
            await self._slots.acquire()  # returns at once
            return True
        self._waiting.add(task)  # _drain() cancels these at once
        try:
            await asyncio.wait_for(self._slots.acquire(), WAIT_MAX_S)
        except asyncio.TimeoutError:  # not the builtin before Python 3.11
            self._lookahead.stalled(WAIT_MAX_S)
            return False
        finally:
            self._waiting.discard(task)
        if self._stopping.is_set():
            self._slots.release()
            return False
        return True

    async def _drain(self) -> None:
        s = self.settings
        for waiting in self._waiting:  # leased ahead, not started: back to the queue now
            waiting.cancel()
        if self._running:
            log.info("waiting up to %.0fs for %d running jobs", s.shutdown_grace_s, len(self._running))
            deadline = time.monotonic() + s.shutdown_grace_s
            while self._running and not self._forced.is_set() and (left := deadline - time.monotonic()) > 0:
                forced = asyncio.ensure_future(self._forced.wait())
                await asyncio.wait(
                    {*self._running, forced}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                forced.cancel()
        leftover = list(self._running)
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)
        if leftover:
            log.warning("gave back %d unfinished jobs to their queues", len(leftover))
        if not await self._settler.flush(timeout=max(5.0, s.lease_s)):
            log.error(
                "could not write every settlement before exiting; their leases will lapse and the "
                "jobs will be recovered by another worker"
            )

    # ---- background duties ------------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        rs = self.rq.settings
        retention = protocol.Retention(
            limit=1000,
            dead_ttl_s=rs.dead_ttl_s,
            succeeded_keep_ms=rs.result_ttl_s * 1000,
            succeeded_max=rs.succeeded_index_max,
            dead_keep_ms=rs.dead_ttl_s * 1000,
            dead_max=rs.dead_max,
        )
        keys = list(self._keys.values())
        while not self._closing.is_set():
            try:
                recovered, died = await self._backend.run(protocol.sweep(keys, self.rq.now_ms(), retention))
                if recovered or died:
                    log.warning(
                        "recovered %d jobs from lapsed leases (%d of them dead: no attempts left)",
                        recovered + died,
                        died,
                    )
            except RedisUnavailable:
                pass  # the fetch loop reports it
            except CorruptData as exc:
                log.error("cannot recover lapsed leases (will retry): %s", exc)
            except Exception:
                log.exception("sweep failed (will retry)")
            await self._sleep_unless(self._closing, self.settings.sweep_every_s * random.uniform(0.8, 1.2))

    def _info(self) -> bytes:
        started = (r for r in self._running.values() if r.started_at)  # not those leased ahead
        return codec.dumps(
            {
                "id": self.id,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "queues": self.queues,
                "concurrency": self.settings.concurrency,
                "queue_concurrency": self.queue_concurrency,  # autoscaling counts a queue's slots with it
                "active": len(self._running) - len(self._waiting),
                "jobs": [
                    {"id": r.job_id, "task": r.task, "started_at": r.started_at}
                    for r in itertools.islice(started, MAX_LISTED_JOBS)
                ],
                "started_at": self._started_at,
                "last_seen": time.time(),
                "processed": self.processed,
            }
        )

    async def _heartbeat_loop(self) -> None:
        g = GlobalKeys(self.rq.settings.prefix)
        ttl_ms = self.rq.settings.worker_ttl_s * 1000
        while not self._closing.is_set():
            try:
                await self._backend.run(
                    protocol.heartbeat(g, self.id, self._info(), int(time.time() * 1000), ttl_ms, self.queues)
                )
            except RedisUnavailable:
                pass  # the fetch loop reports it
            except Exception:  # a heartbeat that stops would make health call a live worker dead
                log.exception("heartbeat failed (will retry)")
            await self._sleep_unless(self._closing, self.settings.heartbeat_every_s)

    @staticmethod
    async def _sleep_unless(event: asyncio.Event, seconds: float) -> None:
        """Sleep, or return early when `event` is set."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
