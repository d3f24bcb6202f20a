"""`/health` for load balancers and Kubernetes probes, as a tiny ASGI app that any framework can mount.

    GET .../live     200 while the process serves requests; no Redis round trip (liveness)
    GET any other    readiness: Redis reachable and how fast, live workers per queue, backlog and
                     oldest-job age within limits, not draining; 200 or 503, JSON with the reasons

Only the last path segment matters, so it answers the same mounted (`Mount("/health", app)`, which
Starlette redirects from `/health` to `/health/`) or routed at an exact path (`Route("/health", app)`).
"""

from __future__ import annotations

from collections.abc import Sequence

from redisq.core.client import RedisQ
from redisq.core.stats import HealthThresholds
from redisq.integrations.web import LIVE, readiness_body

from .lifecycle import Lifecycle
from .protocol import LIFECYCLE_KEY, Receive, Scope, Send, route_path, send_json


class HealthApp:
    """`app.mount("/health", HealthApp(rq))`; readiness knows about draining when RedisQMiddleware is on."""

    def __init__(
        self,
        rq: RedisQ,
        *,
        queues: Sequence[str] | None = None,
        limits: HealthThresholds | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.rq = rq
        self.queues = queues
        self.limits = limits
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # websockets and lifespan are not ours to answer
        path = route_path(scope).rstrip("/")
        head = scope["method"] == "HEAD"
        no_store = (b"cache-control", b"no-store")
        if scope["method"] not in ("GET", "HEAD"):
            await send_json(send, 405, {"detail": "method not allowed"}, [(b"allow", b"GET, HEAD")])
        elif path.endswith("/live"):
            await send_json(send, 200, LIVE, [no_store], head)
        else:
            lifecycle = self.lifecycle or scope.get("state", {}).get(LIFECYCLE_KEY)
            report = await self.rq.health(self.queues, self.limits)
            status, body = readiness_body(report, lifecycle)
            await send_json(send, status, body, [no_store], head)
