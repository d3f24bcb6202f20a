"""An idle worker's wake waiter on a Redis Cluster: its BLPOPs (one per slot, each on the node that owns it)
end with it, whatever the slot table did meanwhile, and follow a slot that moves.

The TLS Cluster test (test_tls.py) once left a `cmd=blpop` client on a node about one run in 30: the
BLPOPs ran on the Cluster client's node objects, which redis-py reworks when it relearns the slot table.
The waiter now blocks through plain clients of its own, one per node; these tests hold it to what the
worker needs of it across relearns, a resharding and a failover.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest
from redis.crc import key_slot

from redisq import RedisQ, RedisUnavailable
from redisq.core.backend import AsyncBackend
from redisq.core.cluster_io import relearn_slots
from redisq.core.embedded import find_server_binary
from redisq.core.topology import AsyncClient
from redisq.core.worker.wakeups import WakeWaiter

from .topologies import Cluster, start_cluster

BINARY = find_server_binary()


def blpops(cluster: Cluster, blocked: bool = False) -> set[tuple[int, str]]:
    """The clients whose last command was a BLPOP (with `blocked`, only those blocked in it now), as
    (node port, client id), over the live nodes. A Cluster client's BLPOP may have been redirected from a
    node: that connection is left idle there, still named by its BLPOP."""
    found = set()
    for node in cluster.live:
        for line in node.command("CLIENT", "LIST").splitlines():
            fields = dict(field.partition("=")[::2] for field in line.split())
            if fields.get("cmd") == "blpop" and (not blocked or "b" in fields.get("flags", "")):
                found.add((node.port, fields["id"]))
    return found


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)  # the event loop runs: the BLPOPs are sent, the closes go out


def wake_keys_on_distinct_masters(cluster: Cluster, prefix: str, count: int) -> list[str]:
    chosen: dict[str, str] = {}
    while len(chosen) < count:
        key = f"{prefix}:{{q-{uuid.uuid4().hex[:6]}}}:wake"
        owner = cluster.master_for_key(key).node_id
        if owner not in chosen.values():
            chosen[key] = owner
    return list(chosen)


def waiter_on(cluster: Cluster, prefix: str) -> tuple[RedisQ, AsyncBackend, AsyncClient, WakeWaiter]:
    """As a worker builds it: its blocking client, and the backend that tokens are given back through."""
    rq = RedisQ(cluster.url, prefix=prefix)
    backend = AsyncBackend(rq.async_client())
    blocking = rq.async_client(socket_timeout=30)
    return rq, backend, blocking, WakeWaiter(blocking, backend)


async def test_a_stop_after_slot_table_relearns_leaves_no_blpop_on_any_node(redis_cluster: Cluster) -> None:
    """Waits ended by a token on one slot (the BLPOPs on the others cancelled) and by a stop (abandoned),
    each after the slot table was relearned under BLPOPs in flight: afterwards no node holds a BLPOP."""
    cluster = redis_cluster
    others = blpops(cluster)  # left by earlier tests of the session, if any: not this one's to judge
    prefix = f"t{uuid.uuid4().hex[:10]}"
    keys = wake_keys_on_distinct_masters(cluster, prefix, 3)
    rq, backend, blocking, waiter = waiter_on(cluster, prefix)
    loop = asyncio.get_running_loop()
    try:
        for round_ in range(4):
            stopped = loop.create_future()
            waiting = asyncio.create_task(waiter.wait(keys, 20, stopped))
            await until(lambda: len(blpops(cluster, True) - others) == 3, 5, "a BLPOP on each master")
            await relearn_slots(blocking)  # as a failed call elsewhere has the worker do
            if round_ < 3:
                key = keys[round_]
                cluster.master_for_key(key).command("LPUSH", key, "1")
            else:
                stopped.set_result(None)
            await asyncio.wait_for(waiting, 5)
        await asyncio.wait_for(waiter.close(), 10)
        await until(lambda: not blpops(cluster) - others, 3, "the BLPOPs to be closed")
        # Each round's token was taken by the BLPOP that woke the wait, and not given back.
        assert [cluster.master_for_key(key).command("LLEN", key) for key in keys] == [0, 0, 0]
    finally:
        await backend.aclose()
        await rq.aclose()


async def test_a_waiter_whose_slot_moves_is_woken_by_a_token_on_the_new_owner() -> None:
    """A live resharding moves the slot of the wake list a waiter blocks on: the node it blocked on
    redirects it (MOVED), and a token pushed on the new owner wakes the idle loop, as a worker runs it."""
    assert BINARY is not None
    with start_cluster(BINARY, masters=3) as cluster:
        prefix = f"t{uuid.uuid4().hex[:10]}"
        key = f"{prefix}:{{q-{uuid.uuid4().hex[:6]}}}:wake"
        source = cluster.master_for_key(key)
        target = next(node for node in cluster.live if node is not source)
        rq, backend, _, waiter = waiter_on(cluster, prefix)
        loop = asyncio.get_running_loop()
        try:
            waiting = asyncio.create_task(waiter.wait([key], 20, loop.create_future()))
            await until(lambda: {port for port, _ in blpops(cluster, True)} == {source.port}, 5, "the BLPOP")
            await asyncio.to_thread(cluster.migrate_slot, key_slot(key.encode()), target)
            target.command("LPUSH", key, "1")
            began = time.monotonic()
            await asyncio.wait_for(waiting, 5)
            while target.command("LLEN", key) != 0:  # as the worker's loop: a wake without a job waits again
                assert time.monotonic() - began < 5, "the token on the new owner was never taken"
                await asyncio.wait_for(waiter.wait([key], 20, loop.create_future()), 5)
            await asyncio.wait_for(waiter.close(), 10)
            await until(lambda: not blpops(cluster), 3, "the BLPOPs to be closed")
        finally:
            await backend.aclose()
            await rq.aclose()


async def test_a_wait_on_a_master_that_dies_raises_redis_unavailable_then_its_replica_serves() -> None:
    """A master killed under a blocked wait: the wait raises RedisUnavailable, as on one server (the worker
    retries after a pause), and once the replica took over, a wait blocks there and its token wakes it."""
    assert BINARY is not None
    with start_cluster(BINARY, masters=3, replicas=1) as cluster:
        prefix = f"t{uuid.uuid4().hex[:10]}"
        key = f"{prefix}:{{q-{uuid.uuid4().hex[:6]}}}:wake"
        master = cluster.master_for_key(key)
        rq, backend, _, waiter = waiter_on(cluster, prefix)
        loop = asyncio.get_running_loop()
        try:
            waiting = asyncio.create_task(waiter.wait([key], 20, loop.create_future()))
            await until(lambda: {port for port, _ in blpops(cluster, True)} == {master.port}, 5, "the BLPOP")
            cluster.kill(master)
            with pytest.raises(RedisUnavailable):
                await asyncio.wait_for(waiting, 5)
            promoted = await asyncio.to_thread(cluster.wait_for_failover, master)
            promoted.command("LPUSH", key, "1")
            began = time.monotonic()
            while promoted.command("LLEN", key) != 0:  # as the worker's loop, which retries after a pause
                assert time.monotonic() - began < 10, "the token on the promoted replica was never taken"
                try:
                    await asyncio.wait_for(waiter.wait([key], 20, loop.create_future()), 5)
                except RedisUnavailable:
                    await asyncio.sleep(0.1)
            await asyncio.wait_for(waiter.close(), 10)
            await until(lambda: not blpops(cluster), 3, "the BLPOPs to be closed")
        finally:
            await backend.aclose()
            await rq.aclose()
