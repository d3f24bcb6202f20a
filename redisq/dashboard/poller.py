"""The one poller of a dashboard mount: it reads Redis once per interval and feeds every open stream.

An admin app, router or blueprint builds one `Poller` (per client, for a Flask blueprint) and every
browser's stream subscribes a feed to it, so the Redis work per poll does not grow with the number of
browsers: each poll is `snapshot.poll` (one pipelined round trip, a second only for new names) and its
result is encoded once; each feed then gets the same bytes.

The poller's task starts with its first subscriber, on the event loop given (the server's, or a Flask
app's loop thread), and ends `idle_stop_s` after the last one left, or at `aclose()` (app shutdown),
which also ends every stream. Feeds keep only the newest chunk: a snapshot is a whole state, so a slow
browser skips states instead of queueing them. Subscribing and offering are thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from redisq.admin import payloads
from redisq.admin.access import Visible, everything
from redisq.admin.errors import error_response
from redisq.admin.payloads import epoch_iso, job_body
from redisq.admin.scope import scoped_snapshot
from redisq.core.errors import JobNotFound, RedisUnavailable
from redisq.core.job import JobInfo

from . import snapshot, sse
from .sse import Chunk

if TYPE_CHECKING:
    from redisq.core.client import RedisQ

log = logging.getLogger("redisq.dashboard")

HEARTBEAT_S = 15.0  # a snapshot goes out at least this often, changed or not
IDLE_STOP_S = 3.0  # the task ends when no stream has been open for this long
POLL_TIMEOUT_S = 5.0  # one poll longer than this counts as Redis being away
REDIS_DOWN = "Redis is unavailable; the numbers shown are from before, retrying"


class Feed(Protocol):
    def offer(self, chunk: Chunk) -> None: ...

    def close(self) -> None: ...


class AsyncFeed:
    """A stream on an event loop (ASGI): `await next()` gives the newest chunk, None once closed."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._chunk: Chunk | None = None
        self._closed = False

    def _signal(self) -> None:
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is self._loop:
            self._ready.set()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._ready.set)

    def offer(self, chunk: Chunk) -> None:
        self._chunk = chunk
        self._signal()

    def close(self) -> None:
        self._closed = True
        self._signal()

    async def next(self) -> Chunk | None:
        while True:
            chunk, self._chunk = self._chunk, None
            if chunk is not None:
                return chunk
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()


class ThreadFeed:
    """A stream in a thread (a WSGI view's generator): `get(timeout)` gives the newest chunk."""

    TIMEOUT = Chunk(b"")  # `get` found nothing within its timeout (time for a ping)

    def __init__(self) -> None:
        self._slot: queue.Queue[Chunk | None] = queue.Queue(maxsize=1)
        self._closed = threading.Event()

    def offer(self, chunk: Chunk | None) -> None:
        while True:  # replace what the reader has not taken yet
            try:
                self._slot.put_nowait(chunk)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._slot.get_nowait()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(queue.Full):  # wakes a waiting reader; a chunk already there is read first
            self._slot.put_nowait(None)

    def get(self, timeout: float) -> Chunk | None:
        """The newest chunk; None once closed; `TIMEOUT` if nothing came within `timeout` seconds."""
        if self._closed.is_set() and self._slot.empty():
            return None
        try:
            return self._slot.get(timeout=timeout)  # None: closed while waiting
        except queue.Empty:
            return None if self._closed.is_set() else self.TIMEOUT


class _JobWatch:
    def __init__(self, feed: Feed, seen: bytes) -> None:
        self.feed = feed
        self.seen = seen  # the job JSON this stream was last sent


def job_chunk(data: bytes, final: bool) -> Chunk:
    """A job stream's chunk for the job's JSON: `job`, and `end` after it once the state is final."""
    if final:
        return Chunk(sse.frame("job", data) + sse.frame("end", data), last=True)
    return Chunk(sse.frame("job", data))


def _job_update(info: JobInfo | None, job_id: str) -> tuple[bytes, Chunk]:
    if info is None:  # deleted, or expired after its final state: the API's 404 body, and the end
        status_body = error_response(JobNotFound(f"no job {job_id} (deleted, or its record expired)"))
        data = orjson.dumps(status_body[1] if status_body else {})
        return data, Chunk(sse.frame("end", data), last=True)
    data = orjson.dumps(job_body(info))
    return data, job_chunk(data, info.state.is_final)


class Poller:
    def __init__(
        self,
        rq: RedisQ,
        *,
        interval_s: float = 1.0,
        heartbeat_s: float = HEARTBEAT_S,
        idle_stop_s: float = IDLE_STOP_S,
        timeout_s: float = POLL_TIMEOUT_S,
    ) -> None:
        self.check_interval(interval_s)
        self.rq = rq
        self.interval_s = interval_s
        self.heartbeat_s = heartbeat_s
        self.idle_stop_s = idle_stop_s
        self.timeout_s = timeout_s
        self.polls = 0  # how many polls ran (all tasks together); tests and benchmarks read it
        self._lock = threading.Lock()
        self._feeds: dict[Feed, Visible] = {}  # each stream, and the queues it may see (issue 17)
        self._watches: dict[str, dict[Feed, _JobWatch]] = {}
        self._memory = snapshot.PollMemory()
        self._seq = 0
        self._latest: Chunk | None = None  # the newest snapshot, while the task runs with browsers
        self._latest_content: dict[str, Any] = {}  # its content, for streams that see some queues only
        self._content: bytes | None = None  # what it said, to tell whether the next one says more
        self._published_at = 0.0
        self._last_good: tuple[list[Any], list[Any]] = ([], [])  # queues and workers, shown while away
        self._failing = False
        self._running = False
        self._generation = 0
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    @staticmethod
    def check_interval(interval_s: float) -> None:
        number = isinstance(interval_s, (int, float)) and not isinstance(interval_s, bool)
        if not number or not 0 < interval_s <= 60:
            raise ValueError(f"dashboard_interval_s must be seconds, over 0 and at most 60: {interval_s!r}")

    @property
    def running(self) -> bool:
        return self._running

    # ---- subscribers (any thread) -------------------------------------------------------------------

    def subscribe(
        self, feed: Feed, loop: asyncio.AbstractEventLoop | None = None, visible: Visible = everything
    ) -> None:
        """Feed it snapshots: the newest at once (or after the first poll), then each change. `visible`:
        the queues this stream may see (access per queue, admin/scope.py); its snapshots hold no other."""
        with self._lock:
            self._feeds[feed] = visible
            if self._latest is not None:
                feed.offer(self._latest if visible is everything else self._scoped({}, visible))
            self._ensure_running(loop)

    def unsubscribe(self, feed: Feed) -> None:
        with self._lock:
            self._feeds.pop(feed, None)

    def watch(
        self, job_id: str, feed: Feed, seen: bytes, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        """Feed it the job's changes; `seen` is the JSON the stream already sent."""
        with self._lock:
            self._watches.setdefault(job_id, {})[feed] = _JobWatch(feed, seen)
            self._ensure_running(loop)

    def unwatch(self, job_id: str, feed: Feed) -> None:
        with self._lock:
            watchers = self._watches.get(job_id)
            if watchers is not None:
                watchers.pop(feed, None)
                if not watchers:
                    del self._watches[job_id]

    def _ensure_running(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Under the lock: start the task on `loop` (default: the running one) unless it runs."""
        loop = loop or asyncio.get_running_loop()
        if self._running and self._loop is loop and not loop.is_closed():
            if self._latest is None and self._wake is not None:
                loop.call_soon_threadsafe(self._wake.set)  # poll now: this browser has nothing yet
            return
        self._running, self._loop = True, loop
        self._generation += 1
        generation = self._generation

        def spawn() -> None:
            self._task = loop.create_task(self._run(generation), name="redisq-dashboard-poller")

        if _running_loop() is loop:
            spawn()
        else:
            loop.call_soon_threadsafe(spawn)

    # ---- the task ----------------------------------------------------------------------------------

    async def _run(self, generation: int) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()
        try:
            idle_since: float | None = None
            while generation == self._generation:
                started = loop.time()
                await self._poll_once()
                with self._lock:
                    if generation != self._generation:
                        return
                    if self._feeds or self._watches:
                        idle_since = None
                    elif idle_since is None:
                        idle_since = started
                    elif started - idle_since >= self.idle_stop_s:
                        self._stopped()
                        return
                wake.clear()
                delay = self.interval_s - (loop.time() - started)
                if delay > 0:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(wake.wait(), delay)
        finally:
            with self._lock:
                if generation == self._generation and self._running:
                    self._stopped()

    def _stopped(self) -> None:
        """Under the lock: the task ends; a new subscriber starts a new one."""
        self._running, self._latest, self._task, self._wake = False, None, None, None

    async def _poll_once(self) -> None:
        with self._lock:
            overview = bool(self._feeds)
            jobs = list(self._watches)
        if not overview and not jobs:
            return
        self.polls += 1
        op = snapshot.poll(
            self.rq.queue_keys,
            self.rq.settings.prefix,
            self._memory,
            registered={t.queue for t in self.rq.tasks.values()},
            worker_ttl_ms=self.rq.settings.worker_ttl_s * 1000,
            jobs=jobs,
            overview=overview,
            limits_for=functools.partial(payloads.limit_bodies, self.rq),
        )
        error: str | None = None
        result: snapshot.PollResult | None = None
        try:
            result = await asyncio.wait_for(self.rq.backend().run(op), self.timeout_s)
        except RedisUnavailable:
            error = REDIS_DOWN
        except asyncio.TimeoutError:
            error = f"Redis did not answer within {self.timeout_s:g} s; retrying"
        except Exception:
            if not self._failing:  # once per failing streak, not once a second
                log.exception("the dashboard poll failed")
            error = "the dashboard could not read Redis (see the server's log); retrying"
        if error is not None and not self._failing:
            log.warning("dashboard: %s", error)
        self._failing = error is not None
        if result is not None:
            self._publish_jobs(result.jobs)
        if overview:
            if result is not None:
                self._last_good = (result.queues, result.workers)
            self._publish_snapshot(error)
        else:
            with self._lock:
                self._latest = None  # no overview was read: a new browser waits for the next poll

    def _publish_snapshot(self, error: str | None) -> None:
        queues, workers = self._last_good
        content = {"redis_ok": error is None, "error": error, "queues": queues, "workers": workers}
        encoded = orjson.dumps(content)
        now = time.monotonic()
        unchanged = encoded == self._content and now - self._published_at < self.heartbeat_s
        if unchanged and self._latest is not None:  # without one, a browser may be waiting for it
            return
        self._content, self._published_at = encoded, now
        self._seq += 1
        full = {"seq": self._seq, "at": epoch_iso(time.time()), **content}
        chunk = Chunk(sse.frame("snapshot", orjson.dumps(full), event_id=self._seq))
        with self._lock:
            self._latest, self._latest_content = chunk, full
            feeds = list(self._feeds.items())
        made: dict[frozenset[str], Chunk] = {}  # one encoding per set of visible queues, not per stream
        for feed, visible in feeds:
            feed.offer(chunk if visible is everything else self._scoped(made, visible))

    def _scoped(self, made: dict[frozenset[str], Chunk], visible: Visible) -> Chunk:
        """The newest snapshot as a stream that sees only some queues gets it (scope.py)."""
        content = self._latest_content
        names = {q["queue"] for q in content.get("queues") or []}
        names.update(q for w in content.get("workers") or [] for q in w["queues"])
        key = frozenset(n for n in names if visible(n))
        if key not in made:
            data = orjson.dumps(scoped_snapshot(content, visible))
            made[key] = Chunk(sse.frame("snapshot", data, event_id=content.get("seq")))
        return made[key]

    def _publish_jobs(self, infos: dict[str, JobInfo | None]) -> None:
        for job_id, info in infos.items():
            data, chunk = _job_update(info, job_id)
            with self._lock:
                watchers = list(self._watches.get(job_id, {}).values())
                if chunk.last:
                    self._watches.pop(job_id, None)
            for watcher in watchers:
                if watcher.seen != data:
                    watcher.seen = data
                    watcher.feed.offer(chunk)

    # ---- shutdown ----------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """End the task and every stream it feeds (app shutdown). A later subscriber starts it again."""
        with self._lock:
            feeds = [*self._feeds, *(f for w in self._watches.values() for f in w)]
            self._feeds.clear()
            self._watches.clear()
            task, loop = self._task, self._loop
            self._generation += 1
            self._stopped()
        for feed in feeds:
            feed.close()
        if task is None or loop is None or loop.is_closed():
            return
        if _running_loop() is loop:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        else:
            loop.call_soon_threadsafe(task.cancel)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
