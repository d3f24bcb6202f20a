"""Where Redis is and what shape it has, from one URL: a single server, a Cluster, or a Sentinel-run master.

    redis://[user:pass@]host:port/db            one server (rediss:// for TLS, unix:// for a socket)
    redis+cluster://[user:pass@]h1:p1,h2:p2     a Redis Cluster: any reachable nodes, the rest is discovered
    redis://host:port?cluster=true              the same, with one start-up node
    redis+sentinel://[user:pass@]s1:p1,s2:p2/service[/db]   the master that the sentinels name `service`

`rediss+cluster://` and `rediss+sentinel://` use TLS; redis-py's query options (`ssl_ca_certs`,
`ssl_certfile`, `ssl_keyfile`, `ssl_cert_reqs`, `socket_timeout`, ...) apply to every node. The user and
password are the data nodes'; sentinels that require their own take `sentinel_username` and
`sentinel_password` options. The app's code never changes between topologies: only the URL does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel

from .errors import ConfigurationError, RedisQError, RedisUnavailable, UnsupportedRedis

Kind = Literal["single", "cluster", "sentinel"]
SyncClient: TypeAlias = redis.Redis | redis.cluster.RedisCluster
AsyncClient: TypeAlias = redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster
_TRUE = ("1", "true", "yes", "on")
_SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")
# Waiting for a free connection of a full pool: a burst of requests queues instead of failing.
POOL_WAIT_S = 5.0


@dataclass(frozen=True)
class Topology:
    kind: Kind
    # A URL of one node that redis-py parses for everything but the topology: scheme (TLS), user,
    # password, database and query options. For a Cluster or Sentinel its host is the first node's.
    node_url: str
    nodes: tuple[tuple[str, int], ...] = ()  # cluster start-up nodes, or the sentinels
    service: str = ""  # the master's name at the sentinels
    sentinel_auth: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """The topology for logs and health: its kind and nodes, never a password."""
        if self.kind == "single":
            parts = urlsplit(self.node_url)
            return f"single {parts.hostname or parts.path}{f':{parts.port}' if parts.port else ''}"
        hosts = ",".join(f"{h}:{p}" for h, p in self.nodes)
        return f"cluster {hosts}" if self.kind == "cluster" else f"sentinel {hosts}/{self.service}"


def parse_url(url: str) -> Topology:
    """The topology a URL names; a ConfigurationError says what is wrong with one that names none."""
    parts = urlsplit(url)
    scheme, _, variant = parts.scheme.partition("+")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if variant == "" and scheme in ("redis", "rediss", "unix"):
        cluster = [v for k, v in query if k == "cluster"]
        if not cluster:
            return Topology("single", url)
        if cluster[-1].lower() not in _TRUE:
            return Topology("single", _with(parts, query=[(k, v) for k, v in query if k != "cluster"]))
        variant = "cluster"
        if scheme == "unix":
            raise ConfigurationError("a Redis Cluster is reached over TCP: use redis+cluster://host:port")
    if scheme not in ("redis", "rediss") or variant not in ("cluster", "sentinel"):
        raise ConfigurationError(
            f"unknown Redis URL scheme {parts.scheme!r}: use redis:// or rediss:// (one server), "
            "redis+cluster:// (Redis Cluster) or redis+sentinel:// (Sentinel)"
        )
    nodes = _hosts(parts.netloc.rpartition("@")[2], url)
    options = [(k, v) for k, v in query if k != "cluster" and k not in _SENTINEL_OPTIONS]
    if variant == "cluster":
        if parts.path.strip("/") not in ("", "0"):
            raise ConfigurationError("a Redis Cluster has only database 0: drop the path from the URL")
        return Topology("cluster", _with(parts, scheme=scheme, host=nodes[0], path="", query=options), nodes)
    service, _, db = parts.path.strip("/").partition("/")
    if not service:
        raise ConfigurationError("a redis+sentinel:// URL names the master: redis+sentinel://host:port/name")
    auth = {k.removeprefix("sentinel_"): v for k, v in query if k in _SENTINEL_OPTIONS}
    node_url = _with(parts, scheme=scheme, host=nodes[0], path=f"/{db or 0}", query=options)
    return Topology("sentinel", node_url, nodes, service, auth)


def _hosts(hostlist: str, url: str) -> tuple[tuple[str, int], ...]:
    nodes = []
    for item in filter(None, hostlist.split(",")):
        if item.startswith("["):  # [IPv6]:port
            host, _, port = item[1:].partition("]")
            port = port.removeprefix(":")
        else:
            host, _, port = item.partition(":")
        try:
            nodes.append((host, int(port) if port else 6379))
        except ValueError:
            raise ConfigurationError(f"bad host:port {item!r} in the Redis URL") from None
    if not nodes:
        raise ConfigurationError(f"the Redis URL names no host: {_redacted(url)}")
    return tuple(nodes)


def _with(
    parts: Any,
    *,
    scheme: str | None = None,
    host: tuple[str, int] | None = None,
    path: str | None = None,
    query: list[tuple[str, str]],
) -> str:
    userinfo, at, hostlist = parts.netloc.rpartition("@")
    netloc = hostlist if host is None else (f"[{host[0]}]" if ":" in host[0] else host[0]) + f":{host[1]}"
    return f"{scheme or parts.scheme}://{userinfo}{at}{netloc}{parts.path if path is None else path}" + (
        f"?{urlencode(query)}" if query else ""
    )


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(parts.password, "***") if parts.password else url


def cluster_error(exc: redis.exceptions.RedisClusterException) -> RedisQError:
    """redis-py's Cluster client errors (not RedisErrors) as redisq's."""
    message = str(exc)
    if "not enabled" in message:
        return UnsupportedRedis(
            f"{message}: a redis+cluster:// URL must name nodes of a Redis Cluster, reached by a user "
            "that may run CLUSTER SLOTS, COMMAND and ASKING (README, 'Production Redis', has the ACL rule "
            "for a Cluster)"
        )
    return RedisUnavailable(f"the Redis Cluster is unavailable: {message}")


# ---- clients ------------------------------------------------------------------------------------------


class _BlockingSentinelPool(redis.sentinel.SentinelConnectionPool, redis.BlockingConnectionPool):
    """Sentinel's pool (finds the master, drops connections to a demoted one) with the blocking wait for
    a free connection that a single server's pool has."""

    def disconnect(self, inuse_connections: bool = True) -> None:
        super().disconnect(inuse_connections)
        # The sentinels' clients are the pool's alone (one Sentinel per client, topology.py): closing the
        # master's client must close them too, else their sockets outlive it.
        for sentinel in self.sentinel_manager.sentinels:
            sentinel.connection_pool.disconnect()


class _AsyncBlockingSentinelPool(
    redis.asyncio.sentinel.SentinelConnectionPool, redis.asyncio.BlockingConnectionPool
):
    async def disconnect(self, inuse_connections: bool = True) -> None:
        await super().disconnect(inuse_connections)
        for sentinel in self.sentinel_manager.sentinels:  # as in _BlockingSentinelPool
            await sentinel.connection_pool.disconnect()


def _sentinel_options(t: Topology, parse: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(options of the master's connections, options of the sentinels' connections)."""
    options = parse(t.node_url)
    options.pop("host", None)
    options.pop("port", None)
    tls = options.pop("connection_class", None) is not None  # rediss: SSLConnection
    if tls:
        options["ssl"] = True
    sentinels = {k: v for k, v in options.items() if k.startswith(("socket_", "ssl"))}
    sentinels.update(t.sentinel_auth)
    return options, sentinels


def sync_client(t: Topology, max_connections: int, **options: Any) -> SyncClient:
    pool = {"max_connections": max_connections, "timeout": options.pop("timeout", POOL_WAIT_S)}
    if t.kind == "single":
        return redis.Redis.from_pool(redis.BlockingConnectionPool.from_url(t.node_url, **pool, **options))
    if t.kind == "cluster":
        nodes = [redis.cluster.ClusterNode(h, p) for h, p in t.nodes]
        try:  # the sync client reads the slot map here
            return redis.cluster.RedisCluster.from_url(
                t.node_url,
                startup_nodes=nodes,
                connection_pool_class=redis.BlockingConnectionPool,
                **pool,
                **options,
            )
        except redis.exceptions.RedisClusterException as exc:
            raise cluster_error(exc) from exc
        except redis.exceptions.RedisError as exc:  # no start-up node answered
            raise RedisUnavailable(f"the Redis Cluster is unavailable: {exc}") from exc
    conn, sentinels = _sentinel_options(t, redis.connection.parse_url)
    manager = redis.sentinel.Sentinel(list(t.nodes), sentinel_kwargs=sentinels, **{**conn, **options})
    client: redis.Redis = manager.master_for(t.service, connection_pool_class=_BlockingSentinelPool, **pool)
    return client


def async_client(t: Topology, max_connections: int, **options: Any) -> AsyncClient:
    wait = options.pop("timeout", POOL_WAIT_S)
    if t.kind == "single":
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            t.node_url, max_connections=max_connections, timeout=wait, **options
        )
        return redis.asyncio.Redis.from_pool(pool)
    if t.kind == "cluster":
        nodes = [redis.asyncio.cluster.ClusterNode(h, p) for h, p in t.nodes]
        # Its pools are per node and do not wait for a free connection: the per-node cap is raised so
        # that a burst waits on Redis rather than failing (see docs/architecture.md, Cluster).
        return redis.asyncio.cluster.RedisCluster.from_url(
            t.node_url, startup_nodes=nodes, max_connections=max_connections, **options
        )
    conn, sentinels = _sentinel_options(t, redis.asyncio.connection.parse_url)
    manager = redis.asyncio.sentinel.Sentinel(list(t.nodes), sentinel_kwargs=sentinels, **{**conn, **options})
    client: redis.asyncio.Redis = manager.master_for(
        t.service,
        connection_pool_class=_AsyncBlockingSentinelPool,
        max_connections=max_connections,
        timeout=wait,
    )
    return client
