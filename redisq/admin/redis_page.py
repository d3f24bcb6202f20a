"""The admin API's Redis page (issue 17), free of any web framework: `GET M/_redis`, each master's
version, memory, eviction policy (with the warning an evicting policy deserves), persistence, clients and
slow log; read-only. See redisq.core.server_report for what is read and what is left out."""

from __future__ import annotations

from typing import TypedDict

from redisq.core.client import RedisQ
from redisq.core.health import SAFE_POLICY
from redisq.core.server_report import NodeReport

from .payloads import epoch_iso


class SlowEntryBody(TypedDict):
    id: int
    at: str
    duration_us: int
    command: str


class RedisNodeBody(TypedDict):
    node: str
    error: str | None
    version: str | None
    mode: str | None
    role: str | None
    uptime_s: int | None
    used_memory: int | None
    used_memory_peak: int | None
    maxmemory: int | None
    maxmemory_policy: str | None
    evicts: bool
    aof_enabled: bool | None
    rdb_last_save_at: str | None
    rdb_changes_since_last_save: int | None
    rdb_last_bgsave_ok: bool | None
    connected_clients: int | None
    slowlog: list[SlowEntryBody]
    slowlog_error: str | None


class RedisBody(TypedDict):
    nodes: list[RedisNodeBody]
    warnings: list[str]


def _node(n: NodeReport) -> RedisNodeBody:
    return {
        "node": n.node,
        "error": n.error,
        "version": n.version,
        "mode": n.mode,
        "role": n.role,
        "uptime_s": n.uptime_s,
        "used_memory": n.used_memory,
        "used_memory_peak": n.used_memory_peak,
        "maxmemory": n.maxmemory,
        "maxmemory_policy": n.maxmemory_policy,
        "evicts": n.evicts,
        "aof_enabled": n.aof_enabled,
        "rdb_last_save_at": epoch_iso(n.rdb_last_save_at) if n.rdb_last_save_at else None,
        "rdb_changes_since_last_save": n.rdb_changes_since_last_save,
        "rdb_last_bgsave_ok": n.rdb_last_bgsave_ok,
        "connected_clients": n.connected_clients,
        "slowlog": [
            {"id": e.id, "at": epoch_iso(e.at), "duration_us": e.duration_us, "command": e.command}
            for e in n.slowlog
        ],
        "slowlog_error": n.slowlog_error,
    }


def warnings(nodes: list[NodeReport]) -> list[str]:
    out = []
    for n in nodes:
        where = f" on {n.node}" if len(nodes) > 1 else ""
        if n.evicts:
            out.append(
                f"maxmemory-policy{where} is {n.maxmemory_policy!r}: when memory runs out Redis evicts keys, "
                f"and an evicted job record or queue index is a lost job. Set it to {SAFE_POLICY!r}."
            )
        if n.rdb_last_bgsave_ok is False:
            out.append(f"the last RDB snapshot{where} failed: a restart would lose what it did not save.")
    return out


async def redis_detail(rq: RedisQ) -> RedisBody:
    nodes = await rq.redis_report()
    return {"nodes": [_node(n) for n in nodes], "warnings": warnings(nodes)}
