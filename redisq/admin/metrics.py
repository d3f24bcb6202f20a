"""The `/_metrics` route of every admin mount (issue 14): Prometheus exposition behind the admin API's
access rules (READ). Framework-free, and free of prometheus_client until the first scrape: a server
without `redisq[prometheus]` answers 501 with the pip command (MissingDependency in errors.py)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from redisq.core.client import RedisQ

if TYPE_CHECKING:
    from redisq.prometheus import MetricsEndpoint


class MetricsRoute:
    """One mount's metrics: its own MetricsEndpoint (so its own cache of the cluster-wide read), made at
    the first scrape."""

    def __init__(self, rq: RedisQ) -> None:
        self._rq = rq
        self._endpoint: MetricsEndpoint | None = None
        self._lock = threading.Lock()

    def endpoint(self) -> MetricsEndpoint:
        with self._lock:
            if self._endpoint is None:
                from redisq.prometheus import MetricsEndpoint

                self._endpoint = MetricsEndpoint(self._rq)
            return self._endpoint

    async def render(self, accept: str | None) -> tuple[bytes, str]:
        """(body, content type) for an async route."""
        return await self.endpoint().render(accept)

    def render_sync(self, accept: str | None) -> tuple[bytes, str]:
        return self.endpoint().render_sync(accept)
