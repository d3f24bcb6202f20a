"""The admin API's Redis page (issue 17), one contract for Starlette, FastAPI and Flask: the server's
version, memory, eviction policy with its warning, persistence, clients, and a slow log that shows a
command's name and first key but never the values it wrote; read-only, for readers too."""

from __future__ import annotations

import pytest

from redisq import RedisQ

from .adminkit import FLAVORS, READER, api_client

pytestmark = pytest.mark.parametrize("flavor", FLAVORS)


async def test_the_redis_page_reports_the_server_and_warns_of_eviction(
    flavor: str, rq: RedisQ, queue: str
) -> None:
    client = rq.backend().client
    async with api_client(flavor, rq) as api:
        body = (await api.get("/_redis", headers=READER)).json()
        [node] = body["nodes"]
        assert node["error"] is None and node["version"].count(".") == 2 and node["role"] == "master"
        assert node["used_memory"] > 0 and node["used_memory_peak"] >= node["used_memory"] // 2
        assert (node["maxmemory_policy"], node["evicts"], body["warnings"]) == ("noeviction", False, [])
        assert node["connected_clients"] >= 1 and isinstance(node["aof_enabled"], bool)

        before = await client.config_get("slowlog-log-slower-than")
        try:
            await client.config_set("slowlog-log-slower-than", 0)  # every command is "slow"
            await client.hset(f"{queue}:secret", "card", "4111-1111-1111-1111")
            await client.config_set("maxmemory-policy", "allkeys-lru")
            body = (await api.get("/_redis")).json()
        finally:
            await client.config_set("maxmemory-policy", "noeviction")
            await client.config_set("slowlog-log-slower-than", before["slowlog-log-slower-than"])
        [node] = body["nodes"]
        commands = [entry["command"] for entry in node["slowlog"]]
        assert f"HSET {queue}:secret …" in commands
        assert not any("4111" in c for c in commands)  # the values written are left out
        assert node["evicts"] and node["maxmemory_policy"] == "allkeys-lru"
        assert len(body["warnings"]) == 1 and "allkeys-lru" in body["warnings"][0]
        for method in ("post", "delete"):
            assert (await getattr(api, method)("/_redis")).status_code == 405  # read-only
