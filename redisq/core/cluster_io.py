"""What a backend does differently on a Redis Cluster: the keys a script declares, scripts in a Cluster
pipeline, and relearning the slot map after a node could not be reached."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio.cluster
import redis.cluster

from .operation import ScriptCall, Single
from .scripts import Scripts
from .topology import AsyncClient, SyncClient


def cluster_keys(call: ScriptCall) -> Sequence[str]:
    """The keys a Cluster is told a script touches: a queue's scripts also declare the queue's base name
    `<prefix>:{q}:`, a key that never exists.

    While a slot moves (resharding), a script runs on the node that has all its declared keys, and inside
    it, any key the node lacks is an error ("non local key"), even one the script would create. So a
    script that ran on the source could fail after its first write, at a key it creates (a new record, a
    minute's counters); and one sent on to the target (ASK, when the source has none of its keys) would
    see only the keys moved so far: a record still to come looks missing (fetch drops it: a lost job), and
    a key it creates (`stats`, `levels`, a list) collides with the one still to come (MIGRATE fails with
    BUSYKEY). With a declared key that exists on neither node, the source answers TRYAGAIN (some keys
    here, not all) or ASK (none), and the target TRYAGAIN (several keys, one missing): no queue script runs
    until the move is over, and the caller retries (RedisUnavailable) as for a failover. Measured in
    tests/test_cluster_faults.py, which moves a queue's slot mid-run."""
    if not call.whole_queue:
        return call.keys
    first = call.keys[0]
    return (*call.keys, first[: first.index("}") + 2])


def queue_on_cluster_pipeline(pipe: Any, request: Sequence[Single], scripts: Scripts[Any]) -> None:
    """Queue a round trip on a Cluster pipeline, which routes each call by its keys (one round trip per
    node, each node's calls in order). redis-py blocks its EVALSHA method there, so scripts go in as
    plain EVALSHA commands, routed like any other."""
    for item in request:
        if isinstance(item, ScriptCall):
            sha = getattr(scripts, item.name).sha
            keys = cluster_keys(item)
            pipe.execute_command("EVALSHA", sha, len(keys), *keys, *item.args)
        else:
            pipe.execute_command(*item.args)


# A Cluster pipeline that cannot reach a node does not refresh the client's slot table (a single command
# does), nor does a shard-channel subscription: after a failover every later pipeline went to the dead
# master, forever (tests/test_cluster_faults.py). The call still fails (RedisUnavailable, retried by its
# caller), and its retry finds the new owner.
async def relearn_slots(client: AsyncClient) -> None:
    if isinstance(client, redis.asyncio.cluster.RedisCluster):
        with contextlib.suppress(redis.exceptions.RedisError):
            await client.nodes_manager.initialize()


def cluster_nodes(client: redis.asyncio.cluster.RedisCluster) -> set[redis.asyncio.cluster.ClusterNode]:
    """Every node object a Cluster client holds now (its slot table's and its startup nodes)."""
    manager = client.nodes_manager
    return {*manager.startup_nodes.values(), *manager.nodes_cache.values()}


async def close_async_client(client: AsyncClient) -> None:
    """Close a client and every connection it opened. A Cluster client's own close does nothing when its
    first slot table was never complete (its initialization cancelled, as a worker's stop cancels a BLPOP
    that is still connecting), and leaves the connections its startup nodes opened: every node it knows
    is disconnected after it (a TLS Cluster test saw a `CLUSTER SLOTS` connection outlive the client)."""
    await client.aclose()
    if isinstance(client, redis.asyncio.cluster.RedisCluster):
        for node in cluster_nodes(client):
            await node.disconnect()


def relearn_slots_sync(client: SyncClient) -> None:
    if isinstance(client, redis.cluster.RedisCluster):
        with contextlib.suppress(redis.exceptions.RedisError):
            client.nodes_manager.initialize()


def missing_scripts(request: Sequence[Single], replies: list[Any]) -> list[int]:
    """The calls a node refused for want of the script (a new node, or a replica promoted by a failover:
    scripts are not replicated): they did not run, and run again on their own, which loads it."""
    missing = redis.exceptions.NoScriptError
    return [
        i
        for i, reply in enumerate(replies)
        if isinstance(reply, missing) and isinstance(request[i], ScriptCall)
    ]
