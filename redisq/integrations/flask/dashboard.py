"""The dashboard on Flask: the page, its files and the two event streams, answered like the ASGI side.

A stream is a streaming `Response` over a generator. The blueprint's poller for the app's client runs on
the app's loop thread (bridge.py) and hands snapshots to each generator through a thread-safe feed; a
generator that the server closes (the browser went away: the next write failed) unsubscribes. Streams
end by themselves when gunicorn begins a graceful stop.

Each open stream holds a server thread for as long as it is open: serve the app with threads (gunicorn
`--worker-class gthread --threads N`, or gevent), not with one synchronous worker per request.
"""

from __future__ import annotations

import functools
import signal
import threading
import time
from collections.abc import Callable, Iterator

import orjson
from flask import Response, request

from redisq.admin import actions
from redisq.admin.access import Visible, everything
from redisq.admin.errors import http_error
from redisq.core.client import RedisQ as Client
from redisq.core.job import JobState
from redisq.dashboard import page, sse
from redisq.dashboard.poller import Poller, ThreadFeed, job_chunk

from .extension import AppState


def _json(status: int, body: object) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def _file(found: page.FileAnswer) -> Response:
    return Response(found.body, status=found.status, headers=found.headers, content_type=found.media_type)


SHUTDOWN_CHECK_S = 0.5  # how often a waiting stream looks whether the server is stopping


def server_stopping() -> bool:
    """Whether gunicorn began a graceful stop: its worker's SIGTERM handler is a method of the worker,
    which clears `alive`. Without this, gunicorn would wait out its graceful timeout for open streams."""
    worker = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return getattr(worker, "alive", True) is False


def _stream(first: bytes, feed: ThreadFeed, join: Callable[[], None], leave: Callable[[], None]) -> Response:
    def body() -> Iterator[bytes]:
        join()  # on the first read, so that a response never sent (HEAD) never subscribes
        try:
            if first:
                yield first
            quiet_since = time.monotonic()
            while not server_stopping():
                chunk = feed.get(timeout=SHUTDOWN_CHECK_S)
                if chunk is None:
                    return
                if chunk is ThreadFeed.TIMEOUT:
                    if time.monotonic() - quiet_since >= sse.PING_S:
                        quiet_since = time.monotonic()
                        yield sse.comment("ping")
                    continue
                quiet_since = time.monotonic()
                yield chunk.data
                if chunk.last:
                    return
        finally:
            leave()

    return Response(body(), mimetype=sse.MEDIA_TYPE, headers=sse.HEADERS)


class FlaskDashboard:
    """The dashboard's views of one blueprint: one poller per client (one per app it is registered on)."""

    def __init__(self, interval_s: float) -> None:
        Poller.check_interval(interval_s)
        self.interval_s = interval_s
        self._pollers: dict[Client, Poller] = {}
        self._lock = threading.Lock()

    def poller(self, client: Client) -> Poller:
        with self._lock:
            found = self._pollers.get(client)
            if found is None:
                found = self._pollers[client] = Poller(client, interval_s=self.interval_s)
            return found

    @staticmethod
    def wants_page() -> bool:
        return page.prefers_html(request.headers.get("Accept"))

    @staticmethod
    def page() -> Response:
        location = page.slash_redirect(request.path, request.query_string.decode("latin-1"))
        if location is not None:
            return Response(status=307, headers={"Location": location})
        found = page.page()
        if found is None:
            return _json(*http_error(404, "the dashboard's files are not installed"))
        return _file(found)

    @staticmethod
    def static(file: str) -> Response:
        found = page.static_file(file, request.headers.get("If-None-Match"))
        if found is None:
            return _json(*http_error(404, "Not Found"))
        return _file(found)

    def events(self, state: AppState, visible: Visible = everything) -> Response:
        """`visible`: the queues the request may see (access per queue, redisq.admin.scope)."""
        poller, feed, loop = self.poller(state.client), ThreadFeed(), state.bridge.loop
        subscribe = functools.partial(poller.subscribe, feed, loop, visible)
        return _stream(b"", feed, subscribe, lambda: poller.unsubscribe(feed))

    def job_events(self, state: AppState, queue: str, uid: str) -> Response:
        """An unknown job raises here (JobNotFound: a 404), before any stream."""
        body = state.bridge.run(actions.job_detail(state.client, queue, uid))
        data = orjson.dumps(body)
        first = job_chunk(data, JobState(body["state"]).is_final)
        if first.last:
            return Response(first.data, mimetype=sse.MEDIA_TYPE, headers=sse.HEADERS)
        poller, feed, loop, job_id = self.poller(state.client), ThreadFeed(), state.bridge.loop, body["id"]
        return _stream(
            first.data,
            feed,
            lambda: poller.watch(job_id, feed, data, loop),
            lambda: poller.unwatch(job_id, feed),
        )
