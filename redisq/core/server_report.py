"""What the dashboard's Redis page shows (issue 17): each master's version, memory, eviction policy,
persistence, clients and slow log, read-only, from INFO and SLOWLOG (each may be refused to a restricted
user or on a managed service: the report then says so instead of failing).

The slow log keeps each entry's command name and first key only: its other arguments are the values
written (job payloads, results), which a reader of the dashboard need not see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from .health import SAFE_POLICY
from .operation import Command, Op
from .redis_errors import redisq_error

SLOWLOG_ENTRIES = 25


@dataclass(frozen=True)
class SlowEntry:
    id: int
    at: float  # epoch seconds
    duration_us: int
    command: str  # its name and first key (its other arguments are left out)


@dataclass(frozen=True)
class NodeReport:
    node: str  # host:port
    error: str | None = None  # INFO could not be read (refused, or the node did not answer)
    version: str | None = None
    mode: str | None = None  # standalone, cluster, sentinel
    role: str | None = None
    uptime_s: int | None = None
    used_memory: int | None = None
    used_memory_peak: int | None = None
    maxmemory: int | None = None  # 0: no limit
    maxmemory_policy: str | None = None
    aof_enabled: bool | None = None
    rdb_last_save_at: float | None = None  # epoch seconds
    rdb_changes_since_last_save: int | None = None
    rdb_last_bgsave_ok: bool | None = None
    connected_clients: int | None = None
    slowlog: list[SlowEntry] = field(default_factory=list)
    slowlog_error: str | None = None  # SLOWLOG refused (it is in ACL's `dangerous` category)

    @property
    def evicts(self) -> bool:
        """Its policy may evict keys: an evicted job record or index is a lost job."""
        return self.maxmemory_policy is not None and self.maxmemory_policy != SAFE_POLICY


def _int(info: Mapping[str, Any], name: str) -> int | None:
    value = info.get(name)
    return (
        int(value)
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit())
        else None
    )


def _text(raw: Any) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def _slow_entry(raw: Any) -> SlowEntry | None:
    try:
        args = [_text(a) for a in raw[3]]
        command = " ".join(args[:2])[:120] + (" …" if len(args) > 2 else "")
        return SlowEntry(int(raw[0]), float(raw[1]), int(raw[2]), command)
    except (IndexError, TypeError, ValueError):
        return None


def node_report(node: str, info: Any, slowlog: Any) -> NodeReport:
    if not isinstance(info, Mapping):
        return NodeReport(node, error=str(info))
    entries = [e for e in map(_slow_entry, slowlog) if e is not None] if isinstance(slowlog, list) else []
    saved = _int(info, "rdb_last_save_time")
    return NodeReport(
        node=node,
        version=str(info.get("redis_version") or info.get("valkey_version") or "") or None,
        mode=str(info["redis_mode"]) if "redis_mode" in info else None,
        role=str(info["role"]) if "role" in info else None,
        uptime_s=_int(info, "uptime_in_seconds"),
        used_memory=_int(info, "used_memory"),
        used_memory_peak=_int(info, "used_memory_peak"),
        maxmemory=_int(info, "maxmemory"),
        maxmemory_policy=str(info["maxmemory_policy"]) if "maxmemory_policy" in info else None,
        aof_enabled=bool(info["aof_enabled"]) if "aof_enabled" in info else None,
        rdb_last_save_at=float(saved) if saved is not None else None,
        rdb_changes_since_last_save=_int(info, "rdb_changes_since_last_save"),
        rdb_last_bgsave_ok=info["rdb_last_bgsave_status"] == "ok"
        if "rdb_last_bgsave_status" in info
        else None,
        connected_clients=_int(info, "connected_clients"),
        slowlog=entries,
        slowlog_error=None if isinstance(slowlog, list) else str(slowlog),
    )


def server_report() -> Op[list[NodeReport]]:
    """Every master's report (one server: one), in one round trip to each."""
    infos, slowlogs = yield [
        Command(("INFO",), tolerant=True, every_node=True),
        Command(("SLOWLOG", "GET", SLOWLOG_ENTRIES), tolerant=True, every_node=True),
    ]
    unreachable = [r for r in infos.values() if isinstance(r, redis.exceptions.ConnectionError)]
    if unreachable and len(unreachable) == len(infos):  # no node answered: Redis is down, not refusing
        raise redisq_error(unreachable[0]) or unreachable[0]
    return [node_report(node, infos[node], slowlogs.get(node)) for node in sorted(infos)]
