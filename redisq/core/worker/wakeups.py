"""An idle worker's wait for a wake token, on one server or across a Cluster's slots.

Each queue has a wake list holding at most one token: an enqueue into an empty queue pushes it, and an
idle worker blocks on the lists of its queues with BLPOP. On one server a single BLPOP covers every queue.
On a Cluster a command's keys must share a slot, and each queue has its own (its hash tag), so the worker
blocks once per slot, concurrently, each on the node that owns it; the first token ends the wait. A BLPOP
left behind that takes a token anyway gives it back, so another worker is woken for that job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio.cluster
from redis.crc import key_slot

from ..backend import AsyncBackend
from ..cluster_io import close_async_client, cluster_nodes
from ..errors import CorruptData
from ..operation import Command
from ..redis_errors import redisq_errors
from ..topology import AsyncClient


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark an abandoned future's outcome as seen (asyncio would log 'exception was never retrieved')."""
    if not future.cancelled():
        future.exception()


class WakeWaiter:
    def __init__(self, blocking: AsyncClient, backend: AsyncBackend) -> None:
        self._blocking = blocking
        self._backend = backend
        self._by_slot = isinstance(blocking, redis.asyncio.cluster.RedisCluster)
        self._giving_back: set[asyncio.Future[Any]] = set()
        self._pending: set[asyncio.Future[Any]] = set()  # BLPOPs not ended yet
        # On a Cluster, every node object a BLPOP may have used. redis-py replaces them when it relearns
        # the slot table (after an error) and closes a replaced node's busy connection only once its
        # command ends; a BLPOP cancelled meanwhile can leave it open, out of reach of the client's close
        # (seen about once in 30 runs of the TLS Cluster test). Closing them all at the end reaches it.
        self._seen: set[redis.asyncio.cluster.ClusterNode] = set()

    async def close(self) -> None:
        """End the BLPOPs still pending, then close the client. One server's close ends a blocked BLPOP at
        once (it closes the connections in use; a Cluster client's leaves them open). But a BLPOP still
        making its connection (asking the sentinels for the master, a TLS handshake) has no socket for
        the close to reach: it connects afterwards and blocks, on a connection nobody closes. So every
        BLPOP is cancelled and awaited, and the client is closed after them, whatever they connected."""
        if not self._by_slot:
            # First: a blocked BLPOP ends at once, where its cancellation could be swallowed (see wait).
            await self._blocking.aclose()
        for blpop in self._pending:
            blpop.cancel()
        if self._pending:
            await asyncio.wait(self._pending, timeout=5)
        if self._giving_back:  # tokens handed back go through the backend: before it closes
            await asyncio.wait(self._giving_back, timeout=5)
        await close_async_client(self._blocking)
        for node in self._seen:
            await node.disconnect()
        self._seen.clear()

    def _remember_nodes(self) -> None:
        if isinstance(self._blocking, redis.asyncio.cluster.RedisCluster):
            now = cluster_nodes(self._blocking)
            # The nodes of earlier tables stay only while a connection of theirs is open: a bounded set.
            self._seen = {n for n in self._seen if n in now or any(c.is_connected for c in n._connections)}
            self._seen |= now

    def _groups(self, keys: Sequence[str]) -> list[list[str]]:
        if not self._by_slot:
            return [list(keys)]
        groups: dict[int, list[str]] = {}
        for key in keys:
            groups.setdefault(key_slot(key.encode()), []).append(key)
        return list(groups.values())

    async def wait(self, keys: Sequence[str], timeout: float, stopped: asyncio.Future[None]) -> None:
        """Until a token is taken from one of `keys`, `timeout` passes, or `stopped` resolves. The BLPOPs
        are not cancelled when `stopped` wins: redis-py can swallow a cancellation that races its read,
        and the worker then waited out the whole block (seen as 5 s stops). An abandoned BLPOP ends when
        the blocking client closes."""
        self._remember_nodes()
        blpops: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self._blocking.blpop(group, timeout=timeout))
            for group in self._groups(keys)
        ]
        for blpop in blpops:
            self._pending.add(blpop)
            blpop.add_done_callback(self._pending.discard)
        try:
            await asyncio.wait([*blpops, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._remember_nodes()
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
