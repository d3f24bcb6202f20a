"""What a client tells about its Redis and its queues' health (ping, the server check, health reports),
with async and sync twins: mixed into RedisQ, which provides the connections and the keys."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import ops
from .backend import AsyncBackend, SyncBackend
from .config import Settings
from .errors import RedisUnavailable
from .health import HealthReport, HealthThresholds, ServerCheck, log_server_check, report_failure
from .keys import QueueKeys
from .operation import Op
from .server_report import NodeReport, server_report
from .topology import SyncClient, Topology


class ServerHealth:
    settings: Settings
    _server_checked: bool  # the first enqueue reads the server's settings (check_server)
    _probe: SyncBackend | None  # sync health checks: socket timeouts of the health budget
    _lock: threading.RLock

    if TYPE_CHECKING:  # provided by RedisQ

        def backend(self) -> AsyncBackend: ...
        def backend_sync(self) -> SyncBackend: ...
        def sync_client(self, **options: Any) -> SyncClient: ...
        def queue_keys(self, queue: str) -> QueueKeys: ...
        @property
        def topology(self) -> Topology: ...

    def _checked(self, check: ServerCheck) -> ServerCheck:
        self._server_checked = True
        log_server_check(check, self.settings.allow_eviction)
        return check

    async def check_server(self) -> ServerCheck:
        """Read the server settings redisq depends on (the eviction policy) and log what is wrong."""
        return self._checked(await self.backend().run(ops.server_check(self.settings.allow_eviction)))

    def check_server_sync(self) -> ServerCheck:
        return self._checked(self.backend_sync().run(ops.server_check(self.settings.allow_eviction)))

    def _probe_backend(self) -> SyncBackend:
        """Sync health checks get connections whose every wait is bounded by the health budget."""
        if self._probe is None:
            with self._lock:
                if self._probe is None:
                    budget = self.settings.health_timeout_s
                    client = self.sync_client(
                        socket_timeout=budget,
                        socket_connect_timeout=budget,
                        timeout=budget,
                        max_connections=4,
                    )
                    self._probe = SyncBackend(client)
        return self._probe

    async def ping(self) -> float:
        """Redis' round-trip time in ms; RedisUnavailable if no answer came within
        `Settings.health_timeout_s` (readiness: a hung Redis must not hang a load balancer's probe)."""
        budget = self.settings.health_timeout_s
        try:
            return await asyncio.wait_for(self.backend().run(ops.ping()), budget)
        except asyncio.TimeoutError:
            raise RedisUnavailable(f"Redis did not answer within {budget}s") from None

    def ping_sync(self) -> float:
        return self._probe_backend().run(ops.ping())

    async def redis_report(self) -> list[NodeReport]:
        """Each master's version, memory, eviction policy, persistence, clients and slow log (read-only;
        what the user may not read is reported as refused)."""
        return await self.backend().run(server_report())

    def redis_report_sync(self) -> list[NodeReport]:
        return self.backend_sync().run(server_report())

    def _health_op(self, queues: Sequence[str] | None, limits: HealthThresholds | None) -> Op[HealthReport]:
        return ops.health(
            self.queue_keys,
            self.settings.prefix,
            queues,
            limits or HealthThresholds(),
            self.settings.worker_ttl_s * 1000,
            self.settings.allow_eviction,
        )

    async def health(
        self,
        queues: Sequence[str] | None = None,
        limits: HealthThresholds | None = None,
        timeout_s: float | None = None,
    ) -> HealthReport:
        """The queues' health: Redis reachable (and how fast) with a safe eviction policy, live workers
        per queue, backlog and wait within `limits`. Never raises: a failed check is a reason.

        It reads more than `ping()`, so its budget is five times `Settings.health_timeout_s` by default.
        """
        budget = timeout_s if timeout_s is not None else 5 * self.settings.health_timeout_s
        try:
            report = await asyncio.wait_for(self.backend().run(self._health_op(queues, limits)), budget)
        except asyncio.TimeoutError:
            report = HealthReport.unreachable(f"Redis did not answer the health check within {budget}s")
        except Exception as exc:
            report = report_failure(exc)
        return self._with_topology(report)

    def _with_topology(self, report: HealthReport) -> HealthReport:
        return dataclasses.replace(report, topology=self.topology.describe())

    def health_sync(
        self, queues: Sequence[str] | None = None, limits: HealthThresholds | None = None
    ) -> HealthReport:
        """`health()` for sync code; each round trip is bounded by `Settings.health_timeout_s`."""
        try:
            report = self._probe_backend().run(self._health_op(queues, limits))
        except Exception as exc:
            report = report_failure(exc)
        return self._with_topology(report)
