"""`RedisQMiddleware`: pure ASGI (no BaseHTTPMiddleware), so streaming and background tasks are untouched."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from redisq.core.client import RedisQ
from redisq.core.config import WorkerSettings
from redisq.core.errors import RedisUnavailable
from redisq.core.task import JobSpec
from redisq.integrations.web import bind_request, unbind_request

from .lifecycle import Lifecycle
from .protocol import LIFECYCLE_KEY, STATE_KEY, ASGIApp, Message, Receive, Scope, Send, header, send_json
from .request_context import after_response_jobs

log = logging.getLogger("redisq.asgi")


class RedisQMiddleware:
    """`app.add_middleware(RedisQMiddleware, redisq=rq, workers=1)`.

    - Lifespan: connects at startup and, with `workers=N`, runs N workers in the app's event loop (no
      signal handlers: the server owns signals); at shutdown, after the app's own shutdown, drains them
      within `worker_settings.shutdown_grace_s` (unfinished jobs go back unspent) and closes connections.
      Without lifespan events (a server that sends none), connections open lazily and no worker runs.
    - Requests: `request.state.redisq` is the client; the request's id (`X-Request-ID`, or a new one, sent
      back in the response) and `traceparent` are stored on every job enqueued while it is handled, and
      jobs passed to `enqueue_after_response` are enqueued only if the response is a success.
    """

    def __init__(
        self,
        app: ASGIApp,
        redisq: RedisQ,
        *,
        workers: int = 0,
        worker_settings: WorkerSettings | None = None,
        queues: Sequence[str] | None = None,
        queue_concurrency: Mapping[str, int] | None = None,
        request_id_header: str = "X-Request-ID",
    ) -> None:
        self.app = app
        self.rq = redisq
        self.lifecycle = Lifecycle(redisq, workers, worker_settings, queues, queue_concurrency)
        self._id_header = request_id_header.lower().encode("latin-1")
        self._warned_no_lifespan = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif scope["type"] in ("http", "websocket"):
            await self._request(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # ---- lifespan ---------------------------------------------------------------------------------

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Ours starts before the app's startup (which may enqueue) and stops after the app's shutdown."""
        received_any = False

        async def receive_wrapped() -> Message:
            nonlocal received_any
            message = await receive()
            received_any = True
            if message["type"] == "lifespan.startup":
                await self.lifecycle.start()
            elif message["type"] == "lifespan.shutdown":
                self.lifecycle.draining = True
            return message

        async def send_wrapped(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.lifecycle.stop()
            await send(message)

        try:
            await self.app(scope, receive_wrapped, send_wrapped)
        except Exception:
            if received_any:
                raise
            # The app does not speak lifespan (it failed before reading a message): speak it for ourselves.
            await self._own_lifespan(receive, send)

    async def _own_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.lifecycle.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    raise
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.lifecycle.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ---- requests ---------------------------------------------------------------------------------

    async def _request(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.lifecycle.started and not self._warned_no_lifespan:
            self._warned_no_lifespan = True
            log.warning(
                "RedisQMiddleware got a request before any lifespan startup: the server sends no lifespan "
                "events, so connections open on first use and no embedded worker runs (workers=%d ignored)",
                self.lifecycle.n_workers,
            )
        state = scope.setdefault("state", {})
        state[STATE_KEY] = self.rq
        state[LIFECYCLE_KEY] = self.lifecycle
        request_id, tokens = bind_request(header(scope, self._id_header), header(scope, b"traceparent"))
        pending: list[JobSpec] = []
        pending_token = after_response_jobs.set(pending)
        try:
            if scope["type"] == "http":
                await self.app(scope, receive, self._http_send(send, request_id, pending))
            else:
                await self.app(scope, receive, send)
        finally:
            after_response_jobs.reset(pending_token)
            unbind_request(tokens)

    def _http_send(self, send: Send, request_id: str, pending: list[JobSpec]) -> Send:
        id_header = (self._id_header, request_id.encode("latin-1"))
        replaced = False

        async def send_wrapped(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the handler's body, after its response was replaced by a 503
            if message["type"] == "http.response.start":
                if pending and message["status"] < 400 and not await self._enqueue(pending, request_id):
                    replaced = True
                    body = {"detail": "background jobs could not be stored; retry"}
                    await send_json(send, 503, body, [id_header])
                    return
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        return send_wrapped

    async def _enqueue(self, specs: list[JobSpec], request_id: str) -> bool:
        try:
            await self.rq.enqueue_many(specs)
        except RedisUnavailable:  # bad arguments are the app's bug, left to raise (a 500)
            log.exception("request %s: %d after-response job(s) not enqueued", request_id, len(specs))
            return False
        return True
