"""Shard channels (SSUBSCRIBE/SPUBLISH, Redis 7+) on any topology.

redisq's notifications (a job's end to its waiters, an abort to the worker running the job) are published
by scripts on channels that carry the queue's hash tag: on a Cluster the message stays on the node that
owns the queue, where a plain PUBLISH is copied to every node. redis-py reads them through `get_message`
on one server and `get_sharded_message` on a Cluster; these helpers hide the difference.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio.cluster
import redis.cluster

from .topology import AsyncClient, SyncClient


async def subscribe(client: AsyncClient, channel: str, confirm_s: float) -> Any:
    """A subscription to `channel`, confirmed (or `confirm_s` waited): no message published after this
    returns is missed."""
    if isinstance(client, redis.asyncio.cluster.RedisCluster):
        await client.initialize()  # the slot map: a new client's pubsub would know no node for the channel
    pubsub = client.pubsub()
    try:
        await pubsub.ssubscribe(channel)
        await next_message(pubsub, confirm_s, confirmations=True)
    except BaseException:
        await pubsub.aclose()
        raise
    return pubsub


async def next_message(pubsub: Any, timeout: float, confirmations: bool = False) -> dict[str, Any] | None:
    """The next message (None after `timeout`); subscription confirmations only if asked for."""
    if isinstance(pubsub, redis.asyncio.cluster.ClusterPubSub):
        message = await pubsub.get_sharded_message(
            ignore_subscribe_messages=not confirmations, timeout=timeout
        )
    else:
        message = await pubsub.get_message(ignore_subscribe_messages=not confirmations, timeout=timeout)
    return message


def subscribe_sync(client: SyncClient, channel: str, confirm_s: float) -> Any:
    pubsub = client.pubsub()  # type: ignore[no-untyped-call]
    try:
        pubsub.ssubscribe(channel)
        next_message_sync(pubsub, confirm_s, confirmations=True)
    except BaseException:
        pubsub.close()
        raise
    return pubsub


def next_message_sync(pubsub: Any, timeout: float, confirmations: bool = False) -> dict[str, Any] | None:
    if isinstance(pubsub, redis.cluster.ClusterPubSub):
        message = pubsub.get_sharded_message(ignore_subscribe_messages=not confirmations, timeout=timeout)
    else:
        message = pubsub.get_message(ignore_subscribe_messages=not confirmations, timeout=timeout)
    return message  # type: ignore[no-any-return]
