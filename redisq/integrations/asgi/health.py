"""`/health` for load balancers, Kubernetes probes and monitoring, as a tiny ASGI app any framework mounts.

The routes and their answers are `redisq.admin.health`'s: readiness of this process at the mount (and
`/ready`), liveness at `/live`, the queues' health at `/queues`; GET and HEAD, OPTIONS says so. Only the
last path segment matters, so it answers the same mounted (`Mount("/health", app)`, which Starlette
redirects from `/health` to `/health/`) or routed at an exact path (`Route("/health", app)`).
"""

from __future__ import annotations

from collections.abc import Sequence

from redisq.admin.errors import http_error
from redisq.admin.health import ALLOW, LIVE, HealthAnswers
from redisq.core.client import RedisQ
from redisq.core.health import HealthThresholds

from .lifecycle import Lifecycle
from .protocol import LIFECYCLE_KEY, Receive, Scope, Send, route_path, send_json

NO_STORE = (b"cache-control", b"no-store")


class HealthApp:
    """`app.mount("/health", HealthApp(rq))`; readiness knows about draining and the embedded workers
    when RedisQMiddleware is on. `queues` and `limits` are for the `/queues` verdict."""

    def __init__(
        self,
        rq: RedisQ,
        *,
        queues: Sequence[str] | None = None,
        limits: HealthThresholds | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.rq = rq
        self.answers = HealthAnswers(rq, queues=queues, limits=limits)
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # websockets and lifespan are not ours to answer
        path = route_path(scope).rstrip("/")
        method = scope["method"]
        allow = (b"allow", ALLOW.encode())
        if method == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": [allow]})
            await send({"type": "http.response.body", "body": b""})
            return
        if method not in ("GET", "HEAD"):
            await send_json(send, *http_error(405, "method not allowed"), [allow])
            return
        head = method == "HEAD"
        if path.endswith("/live"):
            await send_json(send, 200, LIVE, [NO_STORE], head)
            return
        if path.endswith("/queues"):
            status, body = await self.answers.queues_health()
        else:
            lifecycle = self.lifecycle or scope.get("state", {}).get(LIFECYCLE_KEY)
            status, body = await self.answers.readiness(lifecycle)
        await send_json(send, status, body, [NO_STORE], head)
