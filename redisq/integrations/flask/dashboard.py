"""The dashboard on Flask: the page, its files and the two event streams, answered like the ASGI side.

A stream is a streaming `Response` over `FeedStream.in_thread()` (redisq/dashboard/feed_stream.py): the
blueprint's poller for the app's client runs on the app's loop thread (redisq/integrations/bridge.py) and
hands snapshots to each generator through a thread-safe feed. Streams end by themselves when gunicorn
begins a graceful stop.

Each open stream holds a server thread for as long as it is open: serve the app with threads (gunicorn
`--worker-class gthread --threads N`, or gevent), not with one synchronous worker per request.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from flask import Response, request

from redisq.admin.access import Visible, everything
from redisq.admin.errors import http_error
from redisq.dashboard import page, sse
from redisq.dashboard.feed_stream import BridgedDashboard

from .extension import AppState


def _json(status: int, body: object) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def _file(found: page.FileAnswer) -> Response:
    return Response(found.body, status=found.status, headers=found.headers, content_type=found.media_type)


def _events(body: bytes | Iterator[bytes]) -> Response:
    return Response(body, mimetype=sse.MEDIA_TYPE, headers=sse.HEADERS)


class FlaskDashboard(BridgedDashboard):
    """The dashboard's views of one blueprint: one poller per client (one per app it is registered on)."""

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

    def events_response(self, state: AppState, visible: Visible = everything) -> Response:
        return _events(self.events(state.client, state.bridge.loop, visible).in_thread())

    def job_events_response(self, state: AppState, queue: str, uid: str) -> Response:
        found = self.job_events(state.client, state.bridge.loop, state.bridge.run, queue, uid)
        return _events(found if isinstance(found, bytes) else found.in_thread())
