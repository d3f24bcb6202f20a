"""Configuration as frozen values: from arguments, else the environment, else defaults."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .embedded import configured_url
from .errors import ConfigurationError
from .keys import check_queue_name


@dataclass(frozen=True)
class Settings:
    """What a client needs: where Redis is and how jobs are kept."""

    url: str | None = None  # None: REDISQ_URL, else REDIS_URL, else an embedded local server
    prefix: str = "redisq"
    default_queue: str = "default"
    max_payload_bytes: int = 512 * 1024
    result_ttl_s: int = 3600  # a finished job's record and result
    dead_ttl_s: int = 7 * 86400  # a dead letter's record
    dead_max: int = 10_000  # per queue; the oldest are dropped past it
    succeeded_index_max: int = 10_000  # per queue, for listings; records expire on their own
    signing_key: bytes | None = dataclasses.field(default=None, repr=False)  # HMAC-SHA256 of payloads
    worker_ttl_s: int = 15  # a worker whose last heartbeat is older counts as gone
    # Per client and event loop. Past it, callers wait for a free connection (up to 5 s, then
    # RedisUnavailable) instead of failing at once: a burst of requests must not turn into errors.
    max_connections: int = 50
    # How long a health check may wait for Redis before it answers "not ready": well under a load
    # balancer's or Kubernetes' probe timeout (1 s by default), so a hung Redis is a 503, not a timeout.
    health_timeout_s: float = 0.5
    # Redis must not evict keys (maxmemory-policy noeviction): an evicted record or index is a lost job.
    # True accepts another policy knowingly (health stops reporting it; startup still logs it).
    allow_eviction: bool = False
    # Sentinel (or any master with replicas): an enqueue returns only once this many replicas confirm it
    # (WAIT on the enqueue's connection), else raises WriteNotReplicated. Replication is asynchronous, so
    # with 0 a job acknowledged just before a failover can be lost; 1 closes that window. Not on a Cluster.
    replica_acks: int = 0
    replica_ack_timeout_ms: int = 500
    # The job envelope this client writes. 2 (issue 15) is shorter and lets Redis keep the record compact;
    # 1 is what redisq wrote before, for a rolling upgrade: workers of the previous version cannot read
    # version 2 (they bury such jobs as malformed), so set 1 until every worker runs this version (which
    # reads both), then remove it.
    envelope_version: int = 2

    def __post_init__(self) -> None:
        for name in _typed_fields(type(self), "int"):
            if getattr(self, name) <= 0 and name not in _MAY_BE_ZERO:
                raise ConfigurationError(f"Settings.{name} must be positive")
        if self.replica_acks < 0:
            raise ConfigurationError("Settings.replica_acks must be 0 (no wait) or a number of replicas")
        if self.envelope_version not in (1, 2):
            raise ConfigurationError("Settings.envelope_version must be 1 (the previous format) or 2")
        if not 0 < self.health_timeout_s <= 60:
            raise ConfigurationError("Settings.health_timeout_s must be between 0 and 60 seconds")
        if not self.prefix or "{" in self.prefix or "}" in self.prefix:
            raise ConfigurationError("Settings.prefix must be non-empty and hold no braces")
        check_queue_name(self.default_queue, "Settings.default_queue")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Arguments win over REDISQ_<FIELD> variables, which win over the defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "url": configured_url() if environ is None else (env.get("REDISQ_URL") or env.get("REDIS_URL"))
        }
        for f in dataclasses.fields(cls):
            raw = env.get(f"REDISQ_{f.name.upper()}")
            if raw is None or f.name == "url":
                continue
            values[f.name] = _parse(f"REDISQ_{f.name.upper()}", _type_name(f), raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


_MAY_BE_ZERO = frozenset({"replica_acks"})


def _type_name(f: dataclasses.Field[Any]) -> str:
    return str(getattr(f.type, "__name__", f.type))  # a string under `from __future__ import annotations`


def _typed_fields(cls: type[Settings], type_name: str) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls) if _type_name(f) == type_name)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_BOOLS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}


def _parse(variable: str, type_name: str, raw: str) -> Any:
    """An environment variable's value as the field's type, or a ConfigurationError naming the variable."""
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
    except ValueError:
        kind = "an integer" if type_name == "int" else "a number"
        raise ConfigurationError(f"{variable} must be {kind}, got {raw!r}") from None
    if type_name == "bool":
        if raw.strip().lower() not in _BOOLS:
            raise ConfigurationError(f"{variable} must be true or false, got {raw!r}")
        return _BOOLS[raw.strip().lower()]
    if type_name.startswith("bytes"):
        return raw.encode()
    return raw


@dataclass(frozen=True)
class WorkerSettings:
    """How one worker process fetches and runs jobs."""

    concurrency: int = 10  # jobs at once, async and sync together
    lease_s: float = 10.0  # a lapsed lease is recovered by any worker's sweeper
    renew_every_s: float | None = None  # default: a third of the lease
    sweep_every_s: float = 1.0
    heartbeat_every_s: float = 5.0
    shutdown_grace_s: float = 25.0  # under Kubernetes' default 30 s termination grace
    max_idle_block_s: float = 2.0  # idle workers block at most this long before re-checking
    promote_batch: int = 1000  # scheduled jobs moved to queued per fetch
    # At most this many jobs leased ahead of free slots, as many as cover a fetch (worker/lookahead.py);
    # default: concurrency; 0: none.
    prefetch: int | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigurationError("WorkerSettings.concurrency must be at least 1")
        if self.prefetch is not None and self.prefetch < 0:
            raise ConfigurationError("WorkerSettings.prefetch must be 0 or more")
        if self.lease_s <= 0 or self.renew_interval_s >= self.lease_s:
            raise ConfigurationError("leases must be renewed more often than they last")

    @property
    def renew_interval_s(self) -> float:
        return self.renew_every_s if self.renew_every_s is not None else self.lease_s / 3
