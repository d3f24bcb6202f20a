"""The two drivers that run sans-I/O operations (`requests.py`): `AsyncBackend` and `SyncBackend` only do
the I/O, as httpx does with its two clients."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import hiredis
import redis
import redis.asyncio
import redis.asyncio.connection
import redis.cluster
import redis.connection
from redis.commands.core import AsyncScript, Script

from .cluster_io import (
    close_async_client,
    cluster_keys,
    missing_scripts,
    queue_on_cluster_pipeline,
    relearn_slots,
    relearn_slots_sync,
)
from .errors import WriteNotReplicated
from .operation import Command, Op, Request, ScriptCall, Single, drive
from .redis_errors import UNAVAILABLE, redisq_error
from .scripts import Scripts
from .topology import AsyncClient, SyncClient, cluster_error

T = TypeVar("T")


def _tolerated(request: Sequence[Single], replies: list[Any]) -> list[Any]:
    """Replies of a pipeline run with `raise_on_error=False`: errors stay values for tolerant commands
    only; any other error is raised as it would have been."""
    for item, reply in zip(request, replies, strict=True):
        if isinstance(reply, Exception) and not (isinstance(item, Command) and item.tolerant):
            raise reply
    return replies


# The hot calls (enqueue, fetch, finish) are single script calls. redis-py's generic command path (pool
# checkout, retry wrapper, event dispatch, metrics; on asyncio a pure-Python packer) costs more than the
# script itself, so a backend holds connections from the pool and sends EVALSHA on them directly. A held
# connection serves one call at a time; an asyncio backend holds up to HELD_MAX of them, as a worker's
# fetch loop and settler (and an app's concurrent enqueues) call at once. A missing script (NOSCRIPT, e.g.
# after a restart), a broken or timed-out connection, or more concurrent calls than that take the generic
# path, which loads scripts and retries as usual. Measured per single enqueue: 166 -> 130 us sync,
# 194 -> 153 us asyncio (benchmarks/README.md).
FALLBACK = (redis.exceptions.NoScriptError, *UNAVAILABLE)
HELD_MAX = 4


def node_name(connection_kwargs: dict[str, Any]) -> str:
    """host:port (or the socket's path) of a single server's client."""
    path = connection_kwargs.get("path")
    return (
        str(path)
        if path
        else f"{connection_kwargs.get('host', 'localhost')}:{connection_kwargs.get('port', 6379)}"
    )


def _evalsha(sha: str, call: ScriptCall) -> bytes:
    return hiredis.pack_command(("EVALSHA", sha, len(call.keys), *call.keys, *call.args))  # type: ignore[no-any-return]


@dataclass(eq=False, slots=True)
class _Held:
    """A connection taken from the pool for script calls, and the call it carries, if any."""

    conn: redis.asyncio.connection.AbstractConnection
    task: asyncio.Task[Any] | None = None
    since: float = 0.0  # the loop's time when that call began
    expired: bool = False  # the watchdog cancelled that call


class AsyncBackend:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.scripts: Scripts[AsyncScript] = Scripts.register(client.register_script)
        # A Cluster client routes each call by its keys: it has no one connection to hold.
        self._single = isinstance(client, redis.asyncio.Redis)
        self._idle: list[_Held] = []
        self._busy: list[_Held] = []
        self._held_count = 0
        self._closed = False
        self._held_timeout: float | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    async def _take(self) -> _Held | None:
        """An idle held connection, a new one while fewer than HELD_MAX are held, else None."""
        if self._idle:
            return self._idle.pop()
        assert isinstance(self.client, redis.asyncio.Redis)
        pool = self.client.connection_pool
        # At least one of the pool's connections stays free for the generic path: holding them all, a call
        # beyond the held ones would wait for the pool until its timeout (Settings.max_connections of 4).
        if self._held_count >= min(HELD_MAX, getattr(pool, "max_connections", HELD_MAX + 1) - 1):
            return None
        self._held_count += 1  # before the wait: concurrent callers must not take more
        try:
            conn: redis.asyncio.connection.AbstractConnection = await pool.get_connection()
        except BaseException:
            self._held_count -= 1
            raise
        if self._closed:  # aclose() ran during the wait: hold nothing past it
            await pool.release(conn)
            return None
        # The call is bounded as a whole by the client's socket timeout, through `_watch`; left to the
        # connection, the timeout on the write costs a task per call on Python 3.11 (`wait_for`).
        self._held_timeout, conn.socket_timeout = conn.socket_timeout, None
        return _Held(conn)

    # A timer per call (`asyncio.timeout`) costs ~4.5 us, a quarter of our Python per enqueue. Instead one
    # timer outlives calls: when it fires it cancels the calls in flight that are past their time, and
    # re-arms for the earliest deadline of the others; with no call in flight it lapses and the next call
    # arms it. (A call that starts later ends later: the armed timer is never too late for it.)
    def _watch(self) -> None:
        self._watchdog = None
        timeout = self._held_timeout
        if timeout is None:
            return
        loop = asyncio.get_running_loop()
        now, earliest = loop.time(), None
        for held in self._busy:
            deadline = held.since + timeout
            if now < deadline:
                earliest = deadline if earliest is None else min(earliest, deadline)
            elif not held.expired and held.task is not None:
                held.expired = True
                held.task.cancel()
        if earliest is not None:
            self._watchdog = loop.call_at(earliest, self._watch)

    async def _script(self, call: ScriptCall) -> Any:
        script = getattr(self.scripts, call.name)
        if not self._single:
            return await script(keys=cluster_keys(call), args=call.args)
        held = await self._take()
        if held is None:
            return await script(keys=call.keys, args=call.args)
        loop = asyncio.get_running_loop()
        task = held.task = asyncio.current_task(loop)
        held.since = loop.time()
        self._busy.append(held)
        if self._watchdog is None and self._held_timeout is not None:
            self._watchdog = loop.call_at(held.since + self._held_timeout, self._watch)
        try:
            await held.conn.send_packed_command([_evalsha(script.sha, call)], check_health=False)
            return await held.conn.read_response()
        except redis.exceptions.NoScriptError:
            pass
        except BaseException as exc:
            # Whatever broke the call (a timeout, a cancellation), a late reply would answer the next.
            await held.conn.disconnect(nowait=True)
            if isinstance(exc, asyncio.CancelledError) and held.expired:
                # Ours alone: the call timed out. Any other cancellation pending goes on.
                if sys.version_info >= (3, 11) and task is not None and task.uncancel() > 0:
                    raise
            elif not isinstance(exc, UNAVAILABLE):
                raise
        finally:
            held.task, held.expired = None, False
            if held in self._busy:  # else aclose() gave it back to the pool meanwhile
                self._busy.remove(held)
                self._idle.append(held)
        return await script(keys=call.keys, args=call.args)

    async def run(self, op: Op[T]) -> T:
        # The operation is stepped here rather than through `drive()`, and redis-py's errors are caught
        # here rather than by `redisq_errors()`: on the hot path each cost ~1 us per call.
        # (A StopIteration can only come from the operation: PEP 479 turns one raised in a coroutine
        # into a RuntimeError.)
        try:
            request = next(op)
            while True:
                request = op.send(await self.execute(request))
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        except redis.exceptions.RedisError as exc:
            mapped = redisq_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        except redis.exceptions.RedisClusterException as exc:
            raise cluster_error(exc) from exc
        except WriteNotReplicated:
            if isinstance(self.client, redis.asyncio.Redis):
                # The master may have been demoted with our pooled connections still on it (it accepts
                # writes until the sentinels reconfigure it): new connections ask the sentinels again.
                await self.client.connection_pool.disconnect()
            raise

    async def _every_node(self, command: Command) -> dict[str, Any]:
        client = self.client

        async def ask(send: Callable[..., Awaitable[Any]]) -> Any:
            try:
                return await send(*command.args)
            except redis.exceptions.RedisError as exc:
                if not command.tolerant:
                    raise
                return exc

        if isinstance(client, redis.asyncio.Redis):
            return {node_name(client.connection_pool.connection_kwargs): await ask(client.execute_command)}
        await client.initialize()
        # Each master directly and at once, without the Cluster client's retries and slot-map refreshes:
        # a dead master must be named within the health budget, not retried past it.
        nodes = client.get_primaries()
        replies = await asyncio.gather(*(ask(node.execute_command) for node in nodes))
        return {node.name: reply for node, reply in zip(nodes, replies, strict=True)}

    async def _command(self, command: Command) -> Any:
        if command.every_node:
            return await self._every_node(command)
        if not command.tolerant:
            return await self.client.execute_command(*command.args)
        try:
            return await self.client.execute_command(*command.args)
        except redis.exceptions.ResponseError as exc:
            return exc

    async def execute(self, request: Request) -> Any:
        if isinstance(request, ScriptCall):
            return await self._script(request)
        if isinstance(request, Command):
            return await self._command(request)
        if len(request) == 1:
            item = request[0]
            if isinstance(item, ScriptCall):
                return [await self._script(item)]
            return [await self._command(item)]
        if any(isinstance(item, Command) and item.every_node for item in request):
            return [await self.execute(item) for item in request]  # health and checks, not the hot path
        if not self._single:
            pipe = self.client.pipeline(transaction=False)
            queue_on_cluster_pipeline(pipe, request, self.scripts)
            try:
                replies = await pipe.execute(raise_on_error=False)
            except UNAVAILABLE:
                await relearn_slots(self.client)
                raise
            if any(isinstance(reply, UNAVAILABLE) for reply in replies):
                await relearn_slots(self.client)
            for i in missing_scripts(request, replies):
                replies[i] = await self._script(request[i])  # type: ignore[arg-type]
            return _tolerated(request, replies)
        # The context resets the pipeline however it ends: a failed SCRIPT EXISTS (Redis gone mid-call)
        # otherwise leaves it holding its connection.
        async with self.client.pipeline(transaction=False) as pipe:
            for item in request:
                if isinstance(item, ScriptCall):
                    await getattr(self.scripts, item.name)(keys=item.keys, args=item.args, client=pipe)
                else:
                    pipe.execute_command(*item.args)
            if not any(isinstance(item, Command) and item.tolerant for item in request):
                return await pipe.execute()
            return _tolerated(request, await pipe.execute(raise_on_error=False))

    async def aclose(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if isinstance(self.client, redis.asyncio.Redis):
            for held in [*self._idle, *self._busy]:
                held.conn.socket_timeout = self._held_timeout
                await self.client.connection_pool.release(held.conn)
        self._idle, self._busy, self._held_count = [], [], 0
        await close_async_client(self.client)


class SyncBackend:
    """Shared by threads; the held connection by one at a time, and by the process that took it."""

    def __init__(self, client: SyncClient) -> None:
        self.client = client
        self.scripts: Scripts[Script] = Scripts.register(client.register_script)
        self._single = isinstance(client, redis.Redis)
        self._held: redis.connection.Connection | None = None
        self._held_pid = 0
        self._held_lock = threading.Lock()

    def _script(self, call: ScriptCall) -> Any:
        script = getattr(self.scripts, call.name)
        if not self._single:
            return script(keys=cluster_keys(call), args=call.args)
        if not self._held_lock.acquire(blocking=False):
            return script(keys=call.keys, args=call.args)
        try:
            if self._held is None or self._held_pid != os.getpid():  # a forked child must not share it
                assert isinstance(self.client, redis.Redis)
                self._held, self._held_pid = self.client.connection_pool.get_connection(), os.getpid()
            conn = self._held
            try:
                conn.send_packed_command([_evalsha(script.sha, call)], check_health=False)
                return conn.read_response()
            except FALLBACK:
                pass
            except BaseException:
                conn.disconnect()
                raise
        finally:
            self._held_lock.release()
        return script(keys=call.keys, args=call.args)

    def run(self, op: Op[T]) -> T:
        # Stepped through `drive()`: here a StopIteration from `execute` (plain code, not a coroutine)
        # would pass for the operation's end.
        try:
            done, request = drive(op, True, None)
            while not done:
                reply = self.execute(request)  # type: ignore[arg-type]
                done, request = drive(op, False, reply)
            return request  # type: ignore[return-value]
        except redis.exceptions.RedisError as exc:
            mapped = redisq_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        except redis.exceptions.RedisClusterException as exc:
            raise cluster_error(exc) from exc
        except WriteNotReplicated:
            if isinstance(self.client, redis.Redis):  # as in AsyncBackend.run
                self.client.connection_pool.disconnect()
            raise

    def _every_node(self, command: Command) -> dict[str, Any]:
        client = self.client
        if isinstance(client, redis.Redis):
            targets: list[tuple[str, Any]] = [(node_name(client.connection_pool.connection_kwargs), client)]
        else:  # each master's own client: no Cluster retries (as in AsyncBackend._every_node)
            targets = [(node.name, client.get_redis_connection(node)) for node in client.get_primaries()]
        replies: dict[str, Any] = {}
        for name, target in targets:
            try:
                replies[name] = target.execute_command(*command.args)
            except redis.exceptions.RedisError as exc:
                if not command.tolerant:
                    raise
                replies[name] = exc
        return replies

    def _command(self, command: Command) -> Any:
        if command.every_node:
            return self._every_node(command)
        try:
            return self.client.execute_command(*command.args)  # type: ignore[no-untyped-call]
        except redis.exceptions.ResponseError as exc:
            if command.tolerant:
                return exc
            raise

    def execute(self, request: Request) -> Any:
        if isinstance(request, ScriptCall):
            return self._script(request)
        if isinstance(request, Command):
            return self._command(request)
        if len(request) == 1 or any(isinstance(item, Command) and item.every_node for item in request):
            return [self.execute(item) for item in request]
        if not self._single:
            pipe = self.client.pipeline(transaction=False)
            queue_on_cluster_pipeline(pipe, request, self.scripts)
            try:
                replies = pipe.execute(raise_on_error=False)
            except UNAVAILABLE:
                relearn_slots_sync(self.client)
                raise
            if any(isinstance(reply, UNAVAILABLE) for reply in replies):
                relearn_slots_sync(self.client)
            for i in missing_scripts(request, replies):
                replies[i] = self._script(request[i])  # type: ignore[arg-type]
            return _tolerated(request, replies)
        with self.client.pipeline(transaction=False) as pipe:
            for item in request:
                if isinstance(item, ScriptCall):
                    getattr(self.scripts, item.name)(keys=item.keys, args=item.args, client=pipe)
                else:
                    pipe.execute_command(*item.args)
            if not any(isinstance(item, Command) and item.tolerant for item in request):
                return pipe.execute()
            return _tolerated(request, pipe.execute(raise_on_error=False))

    def close(self) -> None:
        with self._held_lock:
            if (
                self._held is not None
                and self._held_pid == os.getpid()
                and isinstance(self.client, redis.Redis)
            ):
                self.client.connection_pool.release(self._held)
            self._held = None
        if isinstance(self.client, redis.cluster.RedisCluster):
            # Its nodes' pools were made for them (blocking ones, topology.py): closing the cluster
            # client leaves them open.
            for node in self.client.get_nodes():
                if node.redis_connection is not None:
                    node.redis_connection.connection_pool.disconnect()
        self.client.close()
