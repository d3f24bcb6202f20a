"""The dashboard's two streams against real servers and a real Redis: live snapshots, job streams, shutdown.

Starlette and FastAPI run in a uvicorn in a thread of this process, Flask in a gunicorn (gthread) of its own,
which closes a stream's generator when the browser goes away; shutdown is a server subprocess and a SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from redisq import RedisQ
from redisq.core.embedded import EmbeddedServer, find_server_binary, free_port
from redisq.dashboard.poller import IDLE_STOP_S
from redisq.dashboard.snapshot import HISTORY_MINUTES

from .conftest import running_worker
from .dashboardstreamkit import (
    INTERVAL,
    EventReader,
    Gunicorn,
    Streams,
    build_asgi,
    queue_in,
    run_server,
    serve_in_thread,
)
from .faultkit import restartable_redis


async def test_snapshots_stream_live(streams: Streams, queue: str) -> None:
    rq = streams.rq

    @rq.task(name="dash.noop", queue=queue)
    async def noop() -> None: ...

    await noop.enqueue()
    async with httpx.AsyncClient(base_url=streams.url, timeout=10) as client:
        started = time.monotonic()
        async with client.stream("GET", "_events", headers={"accept-encoding": "gzip"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["x-accel-buffering"] == "no"
            assert "content-encoding" not in response.headers
            reader = EventReader(response)
            first = await reader.next()
            assert first is not None and time.monotonic() - started < 1.5
            snapshot = first.json()
            assert first.event == "snapshot" and first.id == str(snapshot["seq"])
            assert set(snapshot) == {"seq", "at", "redis_ok", "error", "queues", "workers"}
            assert snapshot["redis_ok"] is True and snapshot["error"] is None
            assert snapshot["at"].endswith("Z")
            mine = queue_in(snapshot, queue)
            assert mine is not None and mine["queued"] == 1
            summary = (await client.get(f"{queue}")).json()
            assert set(mine) == {*summary, "history", "desired_workers"}  # GET M/'s "queues" item, its hour
            assert mine["desired_workers"] == 1  # one job waiting, no worker: core/autoscale.py
            assert len(mine["history"]) == HISTORY_MINUTES
            minutes = [m for m, _, _ in mine["history"]]
            assert minutes == list(range(minutes[0], minutes[0] + HISTORY_MINUTES))
            assert minutes[-1] == int(time.time() // 60)

            # A change reaches the stream within a poll or two.
            enqueued = time.monotonic()
            await noop.enqueue()
            await reader.until(lambda e: (queue_in(e.json(), queue) or {}).get("queued") == 2)
            assert time.monotonic() - enqueued < 2.0

            async with running_worker(rq, queues=[queue]) as worker:
                seen = await reader.until(
                    lambda e: (
                        (queue_in(e.json(), queue) or {}).get("counters", {}).get("succeeded") == 2
                        and any(w["id"] == worker.id for w in e.json()["workers"])
                    ),
                    timeout=10,
                )
            [live] = [w for w in seen.json()["workers"] if w["id"] == worker.id]
            assert set(live) == {
                "id", "host", "pid", "queues", "concurrency", "active", "jobs", "processed", "started_at",
                "last_seen",
            }  # fmt: skip
            assert live["queues"] == [queue] and live["last_seen"].endswith("Z")
            history = queue_in(seen.json(), queue)["history"]  # type: ignore[index]
            assert sum(ok for _, ok, _ in history) == 2

        # A reconnecting browser sends the last id it saw; it gets the whole state at once either way.
        async with client.stream("GET", "_events", headers={"last-event-id": seen.id or ""}) as response:
            again = await EventReader(response).next(timeout=2)
            assert again is not None and again.json()["seq"] >= seen.json()["seq"]


async def test_one_poller_feeds_every_stream(prefix: str, queue: str) -> None:
    """The Redis work per poll stays that of one browser; the poller ends once the browsers are gone.

    The count is the server's own, so the server is this test's alone: on the session's server a worker of an
    earlier test still running out its lease adds commands that would read as the poller's (CI saw 35 -> 46).
    """
    binary = find_server_binary()
    assert binary is not None
    server = EmbeddedServer(binary=binary, port=free_port()).start()
    try:
        await count_poller_commands(server.url, prefix, queue)
    finally:
        server.stop()


async def count_poller_commands(redis_url: str, prefix: str, queue: str) -> None:
    app, poller = build_asgi("starlette", redis_url, prefix)
    poller.idle_stop_s = 0.5
    async with RedisQ(redis_url, prefix=prefix) as rq:
        await rq.enqueue_many([rq.task(name="dash.noop", queue=queue)(lambda: None).call()])
        info = rq.backend().client

        async def commands_per_poll(clients: int) -> float:
            async with contextlib.AsyncExitStack() as stack:
                readers = []
                for _ in range(clients):
                    response = await stack.enter_async_context(http.stream("GET", "_events"))
                    readers.append(EventReader(response))
                await asyncio.gather(*(r.next() for r in readers))
                await asyncio.sleep(INTERVAL)
                polls, before = poller.polls, (await info.info("stats"))["total_commands_processed"]
                await asyncio.sleep(8 * INTERVAL)
                polls, after = poller.polls - polls, (await info.info("stats"))["total_commands_processed"]
                assert len({id(r) for r in readers}) == clients
            assert 6 <= polls <= 10  # every INTERVAL, whatever the number of browsers
            return (after - before - 1) / polls

        with serve_in_thread(app) as url:
            async with httpx.AsyncClient(base_url=f"{url}/queues/", timeout=10) as http:
                one, many = await commands_per_poll(1), await commands_per_poll(20)
                assert many <= one * 1.25 + 1, (one, many)
                deadline = time.monotonic() + poller.idle_stop_s + 2
                while poller.running:
                    assert time.monotonic() < deadline, "the poller outlived its last stream"
                    await asyncio.sleep(0.05)
                stopped = poller.polls
                await asyncio.sleep(3 * INTERVAL)
                assert poller.polls == stopped


async def test_a_browser_after_a_quiet_spell_gets_a_snapshot_at_once(redis_url: str, prefix: str) -> None:
    """Nothing changed since the poller last ran: a new browser still gets the state at once."""
    app, poller = build_asgi("starlette", redis_url, prefix)
    poller.idle_stop_s = 0.2
    with serve_in_thread(app) as url:
        async with httpx.AsyncClient(base_url=f"{url}/queues/", timeout=10) as http:
            for _ in range(2):
                async with http.stream("GET", "_events") as response:
                    assert await EventReader(response).next(timeout=1) is not None
                deadline = time.monotonic() + 5
                while poller.running:  # stopped: the next browser meets a poller with nothing to show
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.05)


async def test_a_redis_outage_is_streamed_and_recovered(prefix: str, queue: str) -> None:
    with restartable_redis() as redis_server:
        app, _ = build_asgi("fastapi", redis_server.url, prefix)
        async with RedisQ(redis_server.url, prefix=prefix) as rq:
            await rq.enqueue_many([rq.task(name="dash.noop", queue=queue)(lambda: None).call()])
        with serve_in_thread(app) as url:
            async with (
                httpx.AsyncClient(base_url=f"{url}/queues/", timeout=10) as http,
                http.stream("GET", "_events") as response,
            ):
                reader = EventReader(response)
                assert (await reader.until(lambda e: e.json()["redis_ok"])).json()["error"] is None
                redis_server.kill()
                down = (await reader.until(lambda e: not e.json()["redis_ok"])).json()
                assert down["error"] and "unavailable" in down["error"]
                assert queue_in(down, queue) is not None  # the numbers from before stay, under a banner
                redis_server.restart()
                back = (await reader.until(lambda e: e.json()["redis_ok"], timeout=10)).json()
                assert back["error"] is None and back["seq"] > down["seq"]
    gc.collect()  # a pipeline left holding its connection would warn now, failing this test


async def test_streams_pass_through_gzip_uncompressed(redis_url: str, prefix: str) -> None:
    app, _ = build_asgi("starlette", redis_url, prefix, gzip=True)
    with serve_in_thread(app) as url:
        async with httpx.AsyncClient(base_url=f"{url}/queues/", timeout=10) as http:
            json_answer = await http.get("", headers={"accept-encoding": "gzip"})
            assert json_answer.headers["content-encoding"] == "gzip"  # the middleware is at work
            async with http.stream("GET", "_events", headers={"accept-encoding": "gzip"}) as response:
                assert "content-encoding" not in response.headers
                raw = response.aiter_raw()
                first = await asyncio.wait_for(anext(raw), 2)  # not held back in a compressor
                await raw.aclose()
                assert first.startswith(b"id: ") and b"event: snapshot" in first


# ---- the per-job stream --------------------------------------------------------------------------------


async def test_a_job_stream_follows_the_job_to_its_end(streams: Streams, queue: str) -> None:
    rq = streams.rq
    go = asyncio.Event()

    @rq.task(name="dash.steps", queue=queue)
    async def steps(n: int) -> int:
        for i in range(n):
            await rq.set_progress((i + 1) / n, f"{i + 1} of {n}")
            await asyncio.sleep(3 * INTERVAL)
            await go.wait()
        return n

    job = await steps.enqueue(2)
    path = f"{queue}/jobs/{job.uid}/events"
    async with httpx.AsyncClient(base_url=streams.url, timeout=10) as client:
        async with client.stream("GET", path) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            reader = EventReader(response)
            first = await reader.next()
            assert first is not None and first.event == "job"
            assert first.json() == (await client.get(f"{queue}/jobs/{job.uid}")).json()
            assert first.json()["state"] == "queued"
            async with running_worker(rq, queues=[queue]):
                running = await reader.until(lambda e: (e.json().get("progress") or {}).get("value") == 0.5)
                assert running.json()["state"] == "active"
                assert running.json()["progress"]["note"] == "1 of 2"
                go.set()
                done = await reader.until(lambda e: e.json()["state"] == "succeeded", timeout=10)
                assert done.event == "job" and done.json()["result"] == 2
                end = await reader.next()
                assert end is not None and end.event == "end"
                assert await reader.next() is None  # and the stream closes
        # A job already at its final state: its JSON and the end at once.
        async with client.stream("GET", path) as response:
            reader = EventReader(response)
            events = [await reader.next(), await reader.next(), await reader.next()]
        assert [e.event if e else None for e in events] == ["job", "end", None]
        missing = await client.get(f"{queue}/jobs/{uuid.uuid4().hex}/events")
        assert missing.status_code == 404 and missing.json()["error"] == "job_not_found"
        assert missing.headers["content-type"] == "application/json"


async def test_a_job_deleted_while_watched_ends_its_stream(redis_url: str, prefix: str, queue: str) -> None:
    app, poller = build_asgi("starlette", redis_url, prefix)
    async with RedisQ(redis_url, prefix=prefix) as rq:
        [job] = await rq.enqueue_many([rq.task(name="dash.noop", queue=queue)(lambda: None).call()])
        with serve_in_thread(app) as url:
            async with (
                httpx.AsyncClient(base_url=f"{url}/queues/", timeout=10) as http,
                http.stream("GET", f"{queue}/jobs/{job.uid}/events") as response,
            ):
                reader = EventReader(response)
                assert (first := await reader.next()) is not None and first.event == "job"
                assert await job.delete()
                end = await reader.next()
                assert end is not None and end.event == "end" and end.json()["error"] == "job_not_found"
                assert await reader.next() is None
            assert not poller._watches  # nothing left to read for it


async def test_flask_streams_unsubscribe_when_the_browser_leaves(
    gunicorn: Gunicorn, redis_url: str, queue: str
) -> None:
    """gunicorn closes a stream's generator when a write fails; the poller stops once none is left."""
    async with RedisQ(redis_url, prefix=gunicorn.prefix) as rq:
        # A job waiting with no worker: its age changes, so every poll writes (and finds the browser gone).
        await rq.enqueue_many([rq.task(name="dash.noop", queue=queue)(lambda: None).call()])
    with KeyWatch(redis_url, f"{gunicorn.prefix}:{{meta}}:queues") as polls:
        async with (
            httpx.AsyncClient(base_url=f"{gunicorn.url}/queues/", timeout=10) as http,
            contextlib.AsyncExitStack() as stack,
        ):
            readers = []  # kept: a reader dropped closes its response (httpx closes it when collected)
            for _ in range(3):
                readers.append(EventReader(await stack.enter_async_context(http.stream("GET", "_events"))))
                assert await readers[-1].next() is not None
            await asyncio.sleep(5 * INTERVAL)
            assert 3 <= len(polls.since(5 * INTERVAL)) <= 7  # one poller for the three
        deadline = time.monotonic() + IDLE_STOP_S + 5
        while polls.since(1.0):
            assert time.monotonic() < deadline, "the Flask poller kept polling with no browser left"
            await asyncio.sleep(0.1)


class KeyWatch:
    """When Redis ran a command naming `key`, from its MONITOR feed: polls of a server in another process."""

    def __init__(self, url: str, key: str) -> None:
        self._connection = redis.Redis.from_url(url).connection_pool.make_connection()
        self._needle = f'"{key}"'.encode()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="redis-monitor", daemon=True)
        self.times: list[float] = []

    def _read(self) -> None:
        connection = self._connection
        while not self._stop.is_set():
            if connection.can_read(timeout=0.05):
                line = connection.read_response()
                if self._needle in (line if isinstance(line, bytes) else str(line).encode()):
                    self.times.append(time.monotonic())

    def since(self, seconds: float) -> list[float]:
        return [t for t in self.times if t > time.monotonic() - seconds]

    def __enter__(self) -> KeyWatch:
        self._connection.connect()
        self._connection.send_command("MONITOR")
        assert self._connection.read_response() in (b"OK", "OK")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._connection.disconnect()


# ---- shutdown ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_the_server_exits_promptly_with_streams_open(
    server: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """SIGTERM with three streams open: each ends at once, and the server does not wait for them.

    Each ends with a complete response (the last chunk of its chunked body), so that a browser sees a clean
    end and reconnects: httpx raises on a body cut short, and uvicorn logs each one it had to cut.
    """
    client = RedisQ(redis_url, prefix=prefix)
    try:
        [job] = client.enqueue_many_sync([client.task(name="dash.noop")(lambda: None).call()])
    finally:
        client.close()
    log = tmp_path / "server.log"
    with run_server(server, redis_url, prefix, log) as process:
        base, ended = f"http://127.0.0.1:{process.port}/queues", []  # type: ignore[attr-defined]
        cut: list[str] = []

        def follow(path: str, opened: threading.Event) -> None:
            try:
                with httpx.stream("GET", base + path, timeout=30) as response:
                    for _ in response.iter_raw():
                        opened.set()
            except httpx.TransportError as exc:  # e.g. "peer closed connection without sending complete..."
                cut.append(f"{path}: {exc!r}")
            ended.append(time.monotonic())

        paths = ["/_events", "/_events", f"/{job.queue}/jobs/{job.uid}/events"]
        opened = [threading.Event() for _ in paths]
        threads = [
            threading.Thread(target=follow, args=pair, daemon=True)
            for pair in zip(paths, opened, strict=True)
        ]
        for thread in threads:
            thread.start()
        for event in opened:
            assert event.wait(5), log.read_text()
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        exited = time.monotonic() - signalled
        for thread in threads:
            thread.join(5)
        assert exited < 3.0, f"{server} took {exited:.1f}s to exit with streams open"
        assert len(ended) == 3 and all(t - signalled < 3.0 for t in ended)
        assert process.returncode in (0, -signal.SIGTERM), log.read_text()
        assert cut == [], log.read_text()
        assert "without completing response" not in log.read_text()


# ---- the pieces ----------------------------------------------------------------------------------------
