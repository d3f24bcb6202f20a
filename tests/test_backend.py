"""The held connection that carries the hot script calls: every way off it must still give right answers."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import warnings
from collections.abc import Awaitable
from typing import TypeVar

import pytest
import redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from redisq import RedisQ, RedisUnavailable
from redisq.core import ops
from redisq.core.backend import HELD_MAX, AsyncBackend

T = TypeVar("T")


async def queued_count(rq: RedisQ, queue: str) -> int:
    return (await rq.stats(queue)).queued


async def test_scripts_flushed_from_the_server_are_loaded_again(rq: RedisQ, queue: str) -> None:
    @rq.task
    async def noop() -> None: ...

    await noop.enqueue()
    await rq.backend().client.script_flush()  # what a restart or a failover to a fresh replica does
    await noop.enqueue()
    assert await queued_count(rq, queue) == 2


def test_scripts_flushed_from_the_server_are_loaded_again_sync(rq_sync: RedisQ, queue: str) -> None:
    @rq_sync.task
    def noop() -> None: ...

    noop.delay()
    rq_sync.backend_sync().client.script_flush()
    noop.delay()
    assert rq_sync.stats_sync(queue).queued == 2


async def test_concurrent_calls_each_get_their_own_reply(rq: RedisQ, queue: str) -> None:
    @rq.task
    async def echo(n: int) -> None: ...

    # Enqueues and stats interleaved: replies of different shapes, so a crossed reply would show.
    results = await asyncio.gather(
        *(echo.enqueue(n) if n % 2 else rq.stats(queue) for n in range(200)), return_exceptions=True
    )
    assert not [r for r in results if isinstance(r, BaseException)]
    assert await queued_count(rq, queue) == 100


async def test_a_call_cancelled_while_waiting_leaves_no_reply_behind(rq: RedisQ, queue: str) -> None:
    @rq.task
    async def noop() -> None: ...

    await noop.enqueue()  # the backend now holds its connection
    admin = redis.asyncio.Redis.from_url(rq.url)
    try:
        await admin.client_pause(500, all=False)  # writes wait: the script call below hangs for 0.5 s
        late = asyncio.create_task(noop.enqueue())
        await asyncio.sleep(0.1)
        late.cancel()
        await asyncio.gather(late, return_exceptions=True)
        await asyncio.sleep(0.5)
        # The enqueue reply ({1}) would answer this call if the connection had been kept.
        stats = await rq.stats(queue)
    finally:
        await admin.aclose()
    assert stats.queued in (1, 2)  # the cancelled call may or may not have reached Redis
    assert stats.queued == await queued_count(rq, queue)


async def test_a_call_past_the_socket_timeout_is_cut_off_and_its_connection_dropped(
    rq: RedisQ, queue: str
) -> None:
    """The server stops answering (CLIENT PAUSE): the held call ends at the socket timeout, not later."""
    backend = AsyncBackend(rq.async_client(socket_timeout=0.3, retry=Retry(NoBackoff(), 0)))
    admin = redis.asyncio.Redis.from_url(rq.url)
    stats_op = lambda: ops.stats(rq.queue_keys(queue), rq.now_ms())  # noqa: E731
    try:
        before = await backend.run(stats_op())  # the backend now holds its connection
        await admin.client_pause(2000, all=False)
        started = time.monotonic()
        with pytest.raises(RedisUnavailable):  # the held call, then the generic path: 0.3 s each
            await backend.run(stats_op())
        elapsed = time.monotonic() - started
        await asyncio.sleep(2.2 - elapsed)  # the pause is over
        after = await backend.run(stats_op())  # a late reply to the cut-off call would answer this one
    finally:
        await admin.client_unpause()
        await admin.aclose()
        await backend.aclose()
    assert 0.5 < elapsed < 1.5
    assert after == before


async def test_concurrent_calls_each_on_a_held_connection_are_cut_off_at_the_timeout_alike(
    rq: RedisQ, queue: str
) -> None:
    """A worker's fetch and settle (an app's enqueues) call at once, each on a held connection of its own:
    one timer watches them all, and each is cut off at its own deadline."""
    backend = AsyncBackend(rq.async_client(socket_timeout=0.3, retry=Retry(NoBackoff(), 0)))
    admin = redis.asyncio.Redis.from_url(rq.url)
    stats_op = lambda: ops.stats(rq.queue_keys(queue), rq.now_ms())  # noqa: E731
    calls = HELD_MAX + 2  # the last two on the generic path
    try:
        before = await asyncio.gather(*(backend.run(stats_op()) for _ in range(calls)))
        await admin.client_pause(2000, all=False)
        started = time.monotonic()
        staggered = [asyncio.sleep(0.05 * i) for i in range(calls)]
        cut = await asyncio.gather(
            *(wait_then(s, backend.run(stats_op())) for s in staggered), return_exceptions=True
        )
        elapsed = time.monotonic() - started
        await asyncio.sleep(2.2 - elapsed)
        after = await asyncio.gather(*(backend.run(stats_op()) for _ in range(calls)))
    finally:
        await admin.client_unpause()
        await admin.aclose()
        await backend.aclose()
    assert [type(c) for c in cut] == [RedisUnavailable] * calls
    assert 0.5 < elapsed < 1.5 + 0.05 * calls
    assert after == before


async def test_a_small_pool_keeps_a_connection_for_calls_beyond_the_held_ones(rq: RedisQ, queue: str) -> None:
    """Settings.max_connections of 2: one connection is held, one left to the generic path, so that
    concurrent calls beyond the held ones do not wait for the pool until it gives up."""
    backend = AsyncBackend(rq.async_client(max_connections=2, timeout=1.0))
    try:
        results = await asyncio.gather(
            *(backend.run(ops.stats(rq.queue_keys(queue), rq.now_ms())) for _ in range(10))
        )
    finally:
        await backend.aclose()
    assert len(results) == 10 and all(r == results[0] for r in results)


async def wait_then(first: Awaitable[None], then: Awaitable[T]) -> T:
    await first
    return await then


def test_threads_share_the_sync_backend(rq_sync: RedisQ, queue: str) -> None:
    @rq_sync.task
    def noop(n: int) -> None: ...

    errors: list[BaseException] = []

    def produce(offset: int) -> None:
        try:
            for n in range(100):
                noop.delay(offset + n)
                if n % 10 == 0:
                    rq_sync.stats_sync(queue)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(i * 1000,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert rq_sync.stats_sync(queue).queued == 800


def test_a_forked_child_does_not_share_the_parents_connection(rq_sync: RedisQ, queue: str) -> None:
    """What `gunicorn --preload` does: the app enqueues in the parent, then forks request workers."""

    @rq_sync.task
    def noop() -> None: ...

    noop.delay()
    rq_sync.stats_sync(queue)  # a single script call: the parent now holds a connection
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (the embedded server's)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            for _ in range(300):
                noop.delay()
            code = 0
        finally:
            os._exit(code)
    # Meanwhile the parent runs a script with replies of another shape on its own connection.
    for _ in range(300):
        rq_sync.stats_sync(queue)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert rq_sync.stats_sync(queue).queued == 301
