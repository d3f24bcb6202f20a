"""Health: what is checked, the verdict, and the names under which a failed check may be shown to anyone.

Two questions, answered separately (issue 11):

- **Is this process ready?** (`RedisQ.ping`, and the adapters' readiness routes): Redis answers within
  `Settings.health_timeout_s`, the process's own embedded workers run, it is not draining. A load
  balancer asks this; a stopped worker tier or a backlog must never take the web tier out of rotation.
- **Are the queues healthy?** (`RedisQ.health`, the `/health/queues` routes, the admin API): Redis is
  reachable and keeps every key (no evicting `maxmemory-policy`), every queue with work has a live
  worker, backlogs and waits are within the limits given. Monitoring and autoscalers ask this.

A failed check is a `HealthProblem`: its `name` is safe for anonymous callers (it names the failing
component, never an address, a pid or a job id); its `detail` is for operators (logs, admin API).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from .autoscale import scaling_of
from .errors import RedisPermissionDenied, RedisQError, RedisUnavailable
from .stats import QueueStats, WorkerInfo

log = logging.getLogger("redisq")

# The only policy under which Redis never drops a key to make room: any other one may evict a job's
# record or a queue's index, and the job is gone without an error (seen: 662 of 1,000 jobs, issue 11).
SAFE_POLICY = "noeviction"


@dataclass(frozen=True)
class HealthProblem:
    # "redis" (unreachable), "redis_eviction", "redis_permissions", "queue_workers", "queue_backlog",
    # "queue_wait"
    check: str
    detail: str  # for operators: may name hosts, numbers, errors
    queue: str | None = None

    @property
    def name(self) -> str:
        """What anyone may be told: the check, and the queue it is about."""
        return self.check if self.queue is None else f"{self.check}:{self.queue}"


@dataclass(frozen=True)
class ServerCheck:
    """What redisq needs of the server, read once at start and by `health()`."""

    maxmemory_policy: str | None  # None: neither INFO nor CONFIG GET could be read (a restricted user)
    problems: list[HealthProblem] = field(default_factory=list)

    @classmethod
    def of_nodes(cls, replies: Mapping[str, tuple[Any, Any]], allow_eviction: bool) -> ServerCheck:
        """One check of every master's (INFO, CONFIG GET) replies: the unsafe policy wins."""
        named = len(replies) > 1
        checks = [
            cls.from_replies(i, c, allow_eviction, node if named else "") for node, (i, c) in replies.items()
        ]
        known = [c.maxmemory_policy for c in checks if c.maxmemory_policy is not None]
        unsafe = [p for p in known if p != SAFE_POLICY]
        policy = (unsafe or known or [None])[0]  # type: ignore[list-item]
        return cls(policy, [p for c in checks for p in c.problems])

    @classmethod
    def from_replies(cls, info: Any, config: Any, allow_eviction: bool, node: str = "") -> ServerCheck:
        policy: str | None = None
        if isinstance(info, Mapping) and info.get("maxmemory_policy"):
            policy = str(info["maxmemory_policy"])
        elif isinstance(config, Mapping):
            raw = config.get(b"maxmemory-policy", config.get("maxmemory-policy"))
            policy = raw.decode() if isinstance(raw, bytes) else raw
        problems = []
        if policy is not None and policy != SAFE_POLICY and not allow_eviction:
            problems.append(
                HealthProblem(
                    "redis_eviction",
                    f"Redis maxmemory-policy{f' on {node}' if node else ''} is {policy!r}: when memory runs "
                    "out Redis evicts keys, and "
                    f"an evicted job record or queue index is a lost job. Set it to {SAFE_POLICY!r} (or "
                    "accept the risk with Settings(allow_eviction=True) / REDISQ_ALLOW_EVICTION=1)",
                )
            )
        return cls(policy, problems)


@dataclass(frozen=True)
class QueueHealth:
    queue: str
    workers: int
    queued: int
    oldest_queued_age_s: float | None
    desired_workers: int = 0  # from backlog, throughput and concurrency (core/autoscale.py)


@dataclass(frozen=True)
class HealthReport:
    """`ok`: every check passed. `problems` say which failed (names for anyone, details for operators);
    `reasons` are their details, as sentences."""

    ok: bool
    redis_ok: bool
    redis_latency_ms: float | None
    queues: list[QueueHealth] = field(default_factory=list)
    workers: list[WorkerInfo] = field(default_factory=list)
    problems: list[HealthProblem] = field(default_factory=list)
    maxmemory_policy: str | None = None
    # "single host:port", "cluster h1:p1,h2:p2" (the start-up nodes), "sentinel s1:p1,.../service"
    topology: str | None = None
    unreachable_nodes: list[str] = field(default_factory=list)  # masters that did not answer (a Cluster)

    @property
    def reasons(self) -> list[str]:
        return [p.detail for p in self.problems]

    @property
    def failing(self) -> list[str]:
        """The names of the failed checks: what an anonymous caller may be told."""
        return [p.name for p in self.problems]

    @classmethod
    def unreachable(cls, detail: str, nodes: Sequence[str] = ()) -> HealthReport:
        problem = HealthProblem("redis", detail)
        return cls(
            ok=False, redis_ok=False, redis_latency_ms=None, problems=[problem], unreachable_nodes=[*nodes]
        )


@dataclass(frozen=True)
class HealthThresholds:
    require_workers: bool = True  # a queue with work and no live worker is unhealthy
    max_backlog: int | None = None
    max_oldest_age_s: float | None = None


def verdict(
    latency_ms: float,
    server: ServerCheck,
    stats: list[QueueStats],
    workers: list[WorkerInfo],
    limits: HealthThresholds,
) -> HealthReport:
    problems = list(server.problems)
    queues: list[QueueHealth] = []
    for s in stats:
        serving = sum(1 for w in workers if s.queue in w.queues)
        desired = scaling_of(s, workers).desired_workers
        queues.append(QueueHealth(s.queue, serving, s.queued, s.oldest_queued_age_s, desired))
        waiting = s.queued + s.scheduled + s.active
        if limits.require_workers and serving == 0 and waiting > 0:
            detail = f"queue {s.queue!r} has {waiting} jobs and no live worker"
            problems.append(HealthProblem("queue_workers", detail, s.queue))
        if limits.max_backlog is not None and s.queued > limits.max_backlog:
            detail = f"queue {s.queue!r} backlog {s.queued} is over {limits.max_backlog}"
            problems.append(HealthProblem("queue_backlog", detail, s.queue))
        age = s.oldest_queued_age_s
        if limits.max_oldest_age_s is not None and age is not None and age > limits.max_oldest_age_s:
            detail = f"queue {s.queue!r} oldest job waited {age:.1f}s, over {limits.max_oldest_age_s}s"
            problems.append(HealthProblem("queue_wait", detail, s.queue))
    return HealthReport(
        ok=not problems,
        redis_ok=True,
        redis_latency_ms=latency_ms,
        queues=queues,
        workers=workers,
        problems=problems,
        maxmemory_policy=server.maxmemory_policy,
    )


def log_server_check(check: ServerCheck, allow_eviction: bool) -> None:
    """What a client and a worker say when they start: errors for what loses jobs, else what is unknown."""
    for problem in check.problems:
        log.error("%s", problem.detail)
    if check.maxmemory_policy is None:
        log.warning(
            "could not read Redis' maxmemory-policy (INFO and CONFIG GET refused): make sure it is %r, "
            "or jobs can be evicted without an error",
            SAFE_POLICY,
        )
    elif check.maxmemory_policy != SAFE_POLICY and allow_eviction:
        log.warning(
            "Redis maxmemory-policy is %r: evictions accepted (allow_eviction)", check.maxmemory_policy
        )


def report_failure(exc: Exception) -> HealthReport:
    """Whatever broke a health check makes it fail with a reason, never raise (a 503, not a 500)."""
    if isinstance(exc, RedisUnavailable):
        return HealthReport.unreachable(f"redis unreachable: {exc}")
    if isinstance(exc, RedisPermissionDenied):
        problem = HealthProblem("redis_permissions", str(exc))
        return HealthReport(ok=False, redis_ok=True, redis_latency_ms=None, problems=[problem])
    if isinstance(exc, (RedisQError, redis.RedisError)):  # MOVED, a damaged queue key...
        return HealthReport.unreachable(f"Redis refused the health check: {type(exc).__name__}: {exc}")
    log.exception("health check failed")
    return HealthReport.unreachable(f"the health check failed: {type(exc).__name__}: {exc}")
