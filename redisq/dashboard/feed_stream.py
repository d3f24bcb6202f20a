"""The dashboard's event streams for adapters whose views are sync (Flask, Django), framework-free.

The poller of a client runs on the adapter's loop thread (redisq/integrations/bridge.py) and offers each
snapshot to the feeds that joined. A `FeedStream` is one response's body over a feed of its own, in the
two forms a server iterates: `in_thread()` for WSGI (a server thread waits on a `ThreadFeed`) and
`on_loop()` for ASGI (an `AsyncFeed` on the server's own loop, which Django under uvicorn iterates; a
sync iterator there would be read to its end before anything is sent).

Both join on their first read, so a response never sent (HEAD) never subscribes, leave when the server
closes them (the browser went away), send a ping comment when nothing came for `sse.PING_S`, and end by
themselves when the server begins a graceful stop.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from redisq.admin import actions
from redisq.admin.access import Visible, everything
from redisq.core.client import RedisQ
from redisq.core.job import JobState

from . import sse
from .poller import AsyncFeed, Feed, Poller, ThreadFeed, job_chunk
from .sse import Chunk

SHUTDOWN_CHECK_S = 0.5  # how often a waiting stream looks whether the server is stopping


def server_stopping() -> bool:
    """Whether the server began a graceful stop. gunicorn's worker and uvicorn's server each handle SIGTERM
    with a method of theirs, which clears the worker's `alive` or sets the server's `should_exit`. Without
    this, the server would wait out its graceful timeout for the open streams."""
    owner = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return getattr(owner, "alive", True) is False or getattr(owner, "should_exit", False) is True


QUIET = ThreadFeed.TIMEOUT  # a wait that ended with nothing new


class _Pacing:
    """What a stream sends after each wait on its feed: the new chunk, or a ping once it has been quiet for
    `sse.PING_S`; and whether that ends it (a final chunk, or the feed closed)."""

    def __init__(self) -> None:
        self.quiet_since = time.monotonic()

    def step(self, chunk: Chunk | None) -> tuple[bytes, bool]:
        if chunk is None:
            return b"", True
        if chunk is QUIET:
            if time.monotonic() - self.quiet_since < sse.PING_S:
                return b"", False
            self.quiet_since = time.monotonic()
            return sse.comment("ping"), False
        self.quiet_since = time.monotonic()
        return chunk.data, chunk.last


@dataclass(frozen=True)
class FeedStream:
    first: bytes  # sent before anything else ("" for none)
    join: Callable[[Feed], None]
    leave: Callable[[Feed], None]

    def in_thread(self) -> Iterator[bytes]:
        feed = ThreadFeed()
        self.join(feed)
        try:
            if self.first:
                yield self.first
            pacing = _Pacing()
            while not server_stopping():
                data, done = pacing.step(feed.get(timeout=SHUTDOWN_CHECK_S))
                if data:
                    yield data
                if done:
                    return
        finally:
            self.leave(feed)

    async def on_loop(self) -> AsyncIterator[bytes]:
        feed = AsyncFeed()  # here, on the loop that iterates the body
        self.join(feed)
        try:
            if self.first:
                yield self.first
            pacing = _Pacing()
            while not server_stopping():
                data, done = pacing.step(await _next(feed))
                if data:
                    yield data
                if done:
                    return
        finally:
            self.leave(feed)


async def _next(feed: AsyncFeed) -> Chunk | None:
    """The feed's next chunk, None once closed, QUIET if none came within SHUTDOWN_CHECK_S."""
    try:
        return await asyncio.wait_for(feed.next(), SHUTDOWN_CHECK_S)
    except asyncio.TimeoutError:
        return QUIET


Run = Callable[[Coroutine[Any, Any, Any]], Any]  # runs a coroutine on the loop thread, returns its result


class BridgedDashboard:
    """The pollers of one admin mount: one per client, run on `loop()`'s thread."""

    def __init__(self, interval_s: float) -> None:
        Poller.check_interval(interval_s)
        self.interval_s = interval_s
        self._pollers: dict[RedisQ, Poller] = {}
        self._lock = threading.Lock()

    def poller(self, client: RedisQ) -> Poller:
        with self._lock:
            found = self._pollers.get(client)
            if found is None:
                found = self._pollers[client] = Poller(client, interval_s=self.interval_s)
            return found

    def events(
        self, client: RedisQ, loop: asyncio.AbstractEventLoop, visible: Visible = everything
    ) -> FeedStream:
        """`M/_events`; `visible`: the queues the request may see (access per queue)."""
        poller = self.poller(client)
        join = functools.partial(_subscribe, poller, loop, visible)
        return FeedStream(b"", join, poller.unsubscribe)

    def job_events(
        self, client: RedisQ, loop: asyncio.AbstractEventLoop, run: Run, queue: str, uid: str
    ) -> FeedStream | bytes:
        """`M/{queue}/jobs/{uid}/events`: the whole body (a job already final), or its stream. An unknown
        job raises here (JobNotFound: a 404), before any stream."""
        body = run(actions.job_detail(client, queue, uid))
        data = orjson.dumps(body)
        first = job_chunk(data, JobState(body["state"]).is_final)
        if first.last:
            return first.data
        poller, job_id = self.poller(client), body["id"]
        return FeedStream(
            first.data,
            lambda feed: poller.watch(job_id, feed, data, loop),
            lambda feed: poller.unwatch(job_id, feed),
        )


def _subscribe(poller: Poller, loop: asyncio.AbstractEventLoop, visible: Visible, feed: Feed) -> None:
    poller.subscribe(feed, loop, visible)
