"""The stream bodies of the sync-view adapters (Flask, Django: redisq/dashboard/feed_stream.py), driven
directly: the first chunk, a ping after a quiet spell, each chunk, the end at a final chunk or a closed
feed, and the feed left in every case. In a thread (WSGI) and on a loop (ASGI)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from redisq.dashboard import feed_stream, sse
from redisq.dashboard.poller import Feed
from redisq.dashboard.sse import Chunk


class Joined:
    def __init__(self) -> None:
        self.feeds: list[Feed] = []
        self.left: list[Feed] = []

    def stream(self) -> feed_stream.FeedStream:
        return feed_stream.FeedStream(b"first\n", self.feeds.append, self.left.append)


@pytest.fixture(autouse=True)
def quick_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "PING_S", 0.3)
    monkeypatch.setattr(feed_stream, "SHUTDOWN_CHECK_S", 0.05)


def test_in_a_thread() -> None:
    joined = Joined()
    body = joined.stream().in_thread()
    assert joined.feeds == []  # joins on the first read only (a HEAD response is never read)
    assert next(body) == b"first\n"
    assert next(body) == sse.comment("ping")  # nothing came for PING_S
    [feed] = joined.feeds
    threading.Timer(0.05, feed.offer, (Chunk(b"one\n"),)).start()
    assert next(body) == b"one\n"
    feed.offer(Chunk(b"last\n", last=True))
    assert list(body) == [b"last\n"]  # and then the end
    assert joined.left == [feed]


def test_on_a_loop() -> None:
    async def run() -> None:
        joined = Joined()
        body = joined.stream().on_loop()
        assert await anext(body) == b"first\n"
        assert await anext(body) == sse.comment("ping")
        [feed] = joined.feeds
        asyncio.get_running_loop().call_later(0.05, feed.offer, Chunk(b"one\n"))
        assert await anext(body) == b"one\n"
        feed.close()
        assert [chunk async for chunk in body] == []  # a closed feed ends the stream
        assert joined.left == [feed]

    asyncio.run(run())
