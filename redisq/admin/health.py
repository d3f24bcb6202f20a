"""The answers of the health routes, the same on every adapter (what is checked: `redisq.core.health`).

    GET, HEAD <mount>          readiness of this process: 200 {"status": "ready", "failing": []}, or 503
    GET, HEAD <mount>/ready    {"status": "unavailable", "failing": ["redis"]}; within the health budget
    GET, HEAD <mount>/live     liveness: 200 while the process serves requests, no Redis round trip
    GET, HEAD <mount>/queues   the queues' health: 200 {"status": "ok", "failing": []}, or 503
                               {"status": "failing", "failing": ["queue_workers:emails", "redis_eviction"]}

Readiness answers for this process only (Redis reachable in time, its own embedded workers running, not
draining): a load balancer must never take every web process out because the separate worker tier is
stopped or a queue has a backlog (issue 11). Those verdicts are the `/queues` route's, for monitoring
and autoscalers. Anonymous callers learn the status and the names of the failing checks, nothing else:
the details (errors with addresses, workers, pids, job ids) go to the log, when the failing checks change,
and to the admin API (`GET <admin mount>/_health`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, TypedDict

from redisq.core.client import RedisQ
from redisq.core.health import HealthReport, HealthThresholds

from .errors import allowed_methods

log = logging.getLogger("redisq.health")

LIVE = {"status": "alive"}
ALLOW = allowed_methods(["GET"])  # every health route's methods: GET, HEAD, OPTIONS


class HealthBody(TypedDict):
    status: str  # "ready" / "unavailable" (readiness); "ok" / "failing" (queues)
    failing: list[str]  # names of the failed checks, e.g. "redis", "draining", "queue_workers:emails"


class ProcessState(Protocol):
    """What readiness asks of the process's lifecycle (the ASGI middleware's `Lifecycle`)."""

    @property
    def draining(self) -> bool: ...

    def stopped_workers(self) -> int: ...


class HealthAnswers:
    """One per health app, router or blueprint: the answers, and a log line whenever what fails changes
    (a probe every second must not log every second)."""

    def __init__(
        self, rq: RedisQ, *, queues: Sequence[str] | None = None, limits: HealthThresholds | None = None
    ) -> None:
        self.rq = rq
        self.queues = queues
        self.limits = limits
        self._logged: dict[str, tuple[str, ...]] = {}

    def _log(self, kind: str, failing: list[str], details: list[str]) -> None:
        if self._logged.get(kind, ()) == tuple(failing):
            return
        self._logged[kind] = tuple(failing)
        if failing:
            log.warning("%s failing (%s): %s", kind, ", ".join(failing), "; ".join(details))
        else:
            log.info("%s ok again", kind)

    def _readiness(
        self, lifecycle: ProcessState | None, redis_error: Exception | None
    ) -> tuple[int, HealthBody]:
        failing: list[str] = []
        details: list[str] = []
        if redis_error is not None:
            failing.append("redis")
            details.append(f"redis: {redis_error}")
        if lifecycle is not None and lifecycle.draining:
            failing.append("draining")
            details.append("shutting down: draining workers")
        elif lifecycle is not None and (stopped := lifecycle.stopped_workers()):
            failing.append("workers")
            details.append(f"{stopped} embedded worker(s) stopped (see the log for why)")
        self._log("readiness", failing, details)
        return (
            (503, {"status": "unavailable", "failing": failing})
            if failing
            else (200, {"status": "ready", "failing": []})
        )

    async def readiness(self, lifecycle: ProcessState | None) -> tuple[int, HealthBody]:
        try:
            await self.rq.ping()
        except Exception as exc:  # any failure to answer in time is "not ready", never a 500
            return self._readiness(lifecycle, exc)
        return self._readiness(lifecycle, None)

    def readiness_sync(self) -> tuple[int, HealthBody]:
        try:
            self.rq.ping_sync()
        except Exception as exc:
            return self._readiness(None, exc)
        return self._readiness(None, None)

    def _queues(self, report: HealthReport) -> tuple[int, HealthBody]:
        self._log("queues health", report.failing, report.reasons)
        if report.ok:
            return 200, {"status": "ok", "failing": []}
        return 503, {"status": "failing", "failing": report.failing}

    async def queues_health(self) -> tuple[int, HealthBody]:
        return self._queues(await self.rq.health(self.queues, self.limits))

    def queues_health_sync(self) -> tuple[int, HealthBody]:
        return self._queues(self.rq.health_sync(self.queues, self.limits))
