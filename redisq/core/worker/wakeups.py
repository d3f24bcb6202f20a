"""An idle worker's wait for a wake token, on one server or across a Cluster's slots.

Each queue has a wake list holding at most one token: an enqueue into an empty queue pushes it, and an
idle worker blocks on the lists of its queues with BLPOP. On one server a single BLPOP covers every queue.
On a Cluster a command's keys must share a slot, and each queue has its own (its hash tag), so the worker
blocks once per slot, concurrently, each on the node that owns it; the first token ends the wait. A BLPOP
left behind that takes a token anyway gives it back, so another worker is woken for that job.

On a Cluster the BLPOPs go through clients of the waiter's own, one plain client per node address; the
Cluster client only supplies the slot table. Through the Cluster client, a BLPOP ran on one of its node
objects, which redis-py reworks when it relearns the slot table (after an error): it drops the nodes no
longer in the table, and closes a busy connection only once its command ends. A BLPOP cancelled meanwhile
could leave its connection open, out of reach of the client's close (a `cmd=blpop` client left on a node
in about one run in 30 of the TLS Cluster test). A plain client's close reaches every connection it
opened, in use or not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio.cluster
from redis.crc import key_slot
from redis.exceptions import ClusterDownError

from ..backend import AsyncBackend
from ..cluster_io import close_async_client, relearn_slots
from ..errors import CorruptData
from ..operation import Command
from ..redis_errors import UNAVAILABLE, redisq_errors
from ..topology import AsyncClient

CLOSE_AGAIN_S = 0.05  # at close, how often the clients are closed again while a BLPOP is left


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark an abandoned future's outcome as seen (asyncio would log 'exception was never retrieved')."""
    if not future.cancelled():
        future.exception()


def _redirected(exc: redis.exceptions.RedisError) -> bool:
    """A MOVED or ASK reply: the slot is served elsewhere now (MOVED is a kind of ASK in redis-py)."""
    return isinstance(exc, redis.exceptions.AskError) or str(exc).startswith(("MOVED ", "ASK "))


class WakeWaiter:
    def __init__(self, blocking: AsyncClient, backend: AsyncBackend) -> None:
        self._blocking = blocking
        self._backend = backend
        self._cluster = blocking if isinstance(blocking, redis.asyncio.cluster.RedisCluster) else None
        self._giving_back: set[asyncio.Future[Any]] = set()
        self._pending: set[asyncio.Future[Any]] = set()  # BLPOPs not ended yet
        # On a Cluster, the BLPOPs' clients by node address ("host:port"), one per address the Cluster
        # ever had. One whose node failed is closed but kept: a BLPOP still connecting through it would
        # open a connection that no later close reached.
        self._nodes: dict[str, redis.asyncio.Redis] = {}
        self._closing = False

    async def close(self) -> None:
        """End the BLPOPs still pending, then close the clients. A plain client's close ends a blocked
        BLPOP at once (it closes the connections in use). But a BLPOP still making its connection (asking
        the sentinels for the master, a TLS handshake) has no socket for the close to reach: it connects
        afterwards and blocks, on a connection nobody closes. So every BLPOP is cancelled and awaited, and
        the clients are closed again after them, whatever they connected."""
        self._closing = True  # a BLPOP that the close ends must not relearn the slot table
        # First: a blocked BLPOP ends at once, where its cancellation could be swallowed (see wait).
        await self._close_clients()
        for blpop in self._pending:
            blpop.cancel()
        # A cancellation that redis-py swallows (it races a connect or a read) leaves the BLPOP running, and
        # one that connected after the close above blocks for its whole timeout on a socket no close has
        # reached yet: closing again ends it. So the clients are closed again while any is left (a stop of
        # a Cluster worker landing in a wait's first connect took 5 s, about one run in 60).
        deadline = asyncio.get_running_loop().time() + 5
        while self._pending and asyncio.get_running_loop().time() < deadline:
            await asyncio.wait(self._pending, timeout=CLOSE_AGAIN_S)
            if self._pending:
                await self._close_clients()
        if self._giving_back:  # tokens handed back go through the backend: before it closes
            await asyncio.wait(self._giving_back, timeout=5)
        await self._close_nodes()
        await close_async_client(self._blocking)

    async def _close_clients(self) -> None:
        """Close what the BLPOPs use: the blocking client on one server, the node clients on a Cluster."""
        if self._cluster is None:
            await self._blocking.aclose()
        await self._close_nodes()

    async def _close_nodes(self) -> None:
        for client in list(self._nodes.values()):
            await client.aclose()

    def _groups(self, keys: Sequence[str]) -> list[list[str]]:
        if self._cluster is None:
            return [list(keys)]
        groups: dict[int, list[str]] = {}
        for key in keys:
            groups.setdefault(key_slot(key.encode()), []).append(key)
        return list(groups.values())

    async def wait(self, keys: Sequence[str], timeout: float, stopped: asyncio.Future[None]) -> None:
        """Until a token is taken from one of `keys`, `timeout` passes, or `stopped` resolves. The BLPOPs
        are not cancelled when `stopped` wins: redis-py can swallow a cancellation that races its read,
        and the worker then waited out the whole block (seen as 5 s stops). An abandoned BLPOP ends when
        the waiter closes its clients."""
        blpops: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self._blpop(group, timeout)) for group in self._groups(keys)
        ]
        for blpop in blpops:
            self._pending.add(blpop)
            blpop.add_done_callback(self._pending.discard)
        try:
            await asyncio.wait([*blpops, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for blpop in blpops:
                if not blpop.done():
                    if len(blpops) > 1 and not stopped.done():
                        blpop.cancel()  # another slot's token woke us: this wait is over
                        blpop.add_done_callback(self._give_back)
                    else:
                        blpop.add_done_callback(_retrieve)
        for blpop in blpops:
            if blpop.done() and not blpop.cancelled() and blpop.exception() is not None:
                try:
                    with redisq_errors():
                        blpop.result()
                except CorruptData as exc:
                    raise CorruptData(f"a wake list of {', '.join(keys)} is damaged: {exc}") from exc

    async def _blpop(self, keys: list[str], timeout: float) -> Any:
        if self._cluster is None:
            return await self._blocking.blpop(keys, timeout=timeout)
        await self._cluster.initialize()  # the slot table: a new client's is empty
        node = self._cluster.nodes_manager.get_node_from_slot(key_slot(keys[0].encode()))
        client = self._node_client(node)
        try:
            return await client.blpop(keys, timeout=timeout)
        except redis.exceptions.RedisError as exc:
            moved, unreachable = _redirected(exc), isinstance(exc, UNAVAILABLE)
            if self._closing or not (moved or unreachable or isinstance(exc, ClusterDownError)):
                raise
            # The slot moved (resharding), or its master failed (a failover): the next wait finds the
            # new owner. A redirect ends this wait as a wake (the worker fetches, finds nothing, and
            # waits again); a failure is raised, as one server's (RedisUnavailable: the worker retries).
            await relearn_slots(self._cluster)
            if unreachable:
                await client.aclose()
            if moved:
                return None
            raise

    def _node_client(self, node: redis.asyncio.cluster.ClusterNode) -> redis.asyncio.Redis:
        client = self._nodes.get(node.name)
        if client is None:
            # The node's own connection settings: TLS, credentials, timeouts (the socket timeout outlasts
            # the longest block), as the Cluster client's connections to it have.
            pool = redis.asyncio.ConnectionPool(
                connection_class=node.connection_class,
                max_connections=node.max_connections,
                **node.connection_kwargs,
            )
            client = self._nodes[node.name] = redis.asyncio.Redis.from_pool(pool)
        return client

    def _give_back(self, blpop: asyncio.Future[Any]) -> None:
        """A BLPOP cancelled too late took a token that nobody here acts on: put it back for another."""
        if blpop.cancelled() or blpop.exception() is not None or blpop.result() is None:
            return
        key = blpop.result()[0]
        giving = asyncio.ensure_future(
            self._backend.run(_push_token(key.decode() if isinstance(key, bytes) else key))
        )
        self._giving_back.add(giving)
        giving.add_done_callback(self._giving_back.discard)
        giving.add_done_callback(_retrieve)


def _push_token(key: str) -> Any:
    yield [Command(("LPUSH", key, "1")), Command(("LTRIM", key, 0, 0))]
