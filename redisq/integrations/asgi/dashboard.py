"""The dashboard on Starlette and FastAPI: the page, its files and the two event streams, as responses.

The admin app (`admin.py`) and the FastAPI router call these after their access checks; what is answered
is decided in `redisq.dashboard` (framework-free, shared with Flask). Streams are sse-starlette's
`EventSourceResponse`: pings, the disconnect watch, and the end of every stream when uvicorn shuts down.

At shutdown sse-starlette sets the stream's `shutdown_event`; the stream then ends by itself, so that the
response still sends its last (empty) body message and the browser reads a complete response and
reconnects. Cancelled instead (what sse-starlette does without the event), the body stops mid-response:
uvicorn logs "ASGI callable returned without completing response" and the client gets a cut body (issue 11).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from redisq.admin import actions
from redisq.admin.access import Visible, everything
from redisq.admin.errors import http_error
from redisq.core.client import RedisQ
from redisq.core.errors import MissingDependency
from redisq.core.job import JobState
from redisq.dashboard import page, sse
from redisq.dashboard.poller import AsyncFeed, Poller, job_chunk


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def _file(found: page.FileAnswer) -> Response:
    return Response(found.body, found.status, headers=found.headers, media_type=found.media_type)


def wants_page(request: Request) -> bool:
    return page.prefers_html(request.headers.get("accept"))


def page_response(request: Request) -> Response:
    location = page.slash_redirect(request.scope["path"], request.url.query)
    if location is not None:
        return RedirectResponse(location, 307)
    found = page.page()
    if found is None:
        return _json(*http_error(404, "the dashboard's files are not installed"))
    return _file(found)


def static_response(request: Request) -> Response:
    found = page.static_file(str(request.path_params["file"]), request.headers.get("if-none-match"))
    if found is None:
        return _json(*http_error(404, "Not Found"))
    return _file(found)


SHUTDOWN_GRACE_S = 1.0  # how long a stream gets to end by itself at shutdown before it is cancelled

Stream = Callable[[AsyncFeed], AsyncIterator[bytes]]


def _event_source(stream: Stream) -> Response:
    """The response of `stream(feed)`, whose feed closes (ending the stream) when the server shuts down."""
    try:
        from sse_starlette import EventSourceResponse
    except ModuleNotFoundError as exc:
        hint = "the dashboard's streams need sse-starlette: pip install 'redisq[asgi]'"
        raise MissingDependency(hint) from exc
    shutdown = anyio.Event()

    async def body() -> AsyncIterator[bytes]:
        feed = AsyncFeed()
        closer = asyncio.create_task(_close_at(shutdown, feed))
        try:
            async for data in stream(feed):
                yield data
        finally:
            closer.cancel()

    return EventSourceResponse(
        body(),
        ping=sse.PING_S,
        sep="\n",
        headers=sse.HEADERS,
        shutdown_event=shutdown,
        shutdown_grace_period=SHUTDOWN_GRACE_S,
    )


async def _close_at(shutdown: anyio.Event, feed: AsyncFeed) -> None:
    await shutdown.wait()
    feed.close()


async def _drain(feed: AsyncFeed) -> AsyncIterator[bytes]:
    while (chunk := await feed.next()) is not None:
        yield chunk.data
        if chunk.last:
            return


def events_response(poller: Poller, visible: Visible = everything) -> Response:
    """`M/_events`: the newest snapshot at once, then each change (at least every 15 s); of the queues
    `visible` lets the request see (access per queue, redisq.admin.scope)."""

    async def stream(feed: AsyncFeed) -> AsyncIterator[bytes]:
        # Subscribed when the body starts, not before: a HEAD request, answered without a body, never is.
        poller.subscribe(feed, visible=visible)
        try:
            async for data in _drain(feed):
                yield data
        finally:
            poller.unsubscribe(feed)

    return _event_source(stream)


async def job_events_response(rq: RedisQ, poller: Poller, queue: str, uid: str) -> Response:
    """`M/{queue}/jobs/{uid}/events`; an unknown job raises here, before any stream (a 404)."""
    body = await actions.job_detail(rq, queue, uid)
    data = orjson.dumps(body)
    first = job_chunk(data, JobState(body["state"]).is_final)

    async def stream(feed: AsyncFeed) -> AsyncIterator[bytes]:
        yield first.data
        if first.last:
            return
        poller.watch(body["id"], feed, data)
        try:
            async for chunk in _drain(feed):
                yield chunk
        finally:
            poller.unwatch(body["id"], feed)

    return _event_source(stream)
