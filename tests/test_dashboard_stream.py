"""The dashboard's server side against a real Redis: the page and its files, `_me`, and the two streams.

Page, files and access run in-process on the three adapters (httpx over ASGI; Flask through a2wsgi).
Streams need a real server (httpx's ASGI transport buffers whole responses): Starlette and FastAPI run in
a uvicorn in a thread of this process, Flask in a gunicorn (gthread) of its own, which closes a stream's
generator when the browser goes away. Shutdown is a uvicorn subprocess and a SIGTERM.

This module is also the app module of those servers: `asgi_app` and `flask_app` read their settings from
the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount

from redisq import RedisQ
from redisq.core.embedded import free_port
from redisq.dashboard import page, sse
from redisq.dashboard.poller import IDLE_STOP_S, Poller
from redisq.dashboard.snapshot import HISTORY_MINUTES, PollMemory, poll
from redisq.integrations.asgi import admin_actions
from redisq.integrations.asgi.admin import admin_app
from redisq.integrations.fastapi.admin import admin_router
from redisq.integrations.flask import RedisQ as FlaskRedisQ
from redisq.integrations.flask.admin import admin_blueprint

from .adminkit import ADMIN, FLAVORS, READER, api_client
from .conftest import running_worker
from .faultkit import restartable_redis

ROOT = Path(__file__).resolve().parent.parent
INTERVAL = 0.2  # the servers' poll interval here (the default is 1 s)
BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ASSETS = {
    "index.html": b'<!doctype html><title>redisq</title><script type="module" src="_static/app.js"></script>',
    "app.js": b"export const answer = 42;\n",
    "app.css": b"body { color: black; }\n",
}


# ---- the servers' apps (also imported by uvicorn and gunicorn from this module) -------------------------


def build_asgi(
    flavor: str, url: str, prefix: str, gzip: bool = False, **options: Any
) -> tuple[Starlette | FastAPI, Poller]:
    """The admin API at /queues of a new app, with a client of its own that its lifespan closes."""
    client = RedisQ(url, prefix=prefix)
    options = {"allow_anonymous": "read", "dashboard_interval_s": INTERVAL, **options}

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        await client.aclose()

    middleware = [Middleware(GZipMiddleware, minimum_size=1)] if gzip else []
    if flavor == "starlette":
        admin = admin_app(client, **options)
        app = Starlette(routes=[Mount("/queues", admin)], lifespan=lifespan, middleware=middleware)
        return app, admin.state.redisq_dashboard
    router = admin_router(client, **options)
    fastapi = FastAPI(lifespan=lifespan, middleware=middleware)
    fastapi.include_router(router, prefix="/queues")
    return fastapi, router.redisq_dashboard  # type: ignore[attr-defined]


def asgi_app() -> FastAPI:
    app, _ = build_asgi("fastapi", os.environ["DASH_URL"], os.environ["DASH_PREFIX"])
    assert isinstance(app, FastAPI)
    return app


def flask_app() -> Flask:
    app = Flask("dashboard-streams")
    FlaskRedisQ(app, client=RedisQ(os.environ["DASH_URL"], prefix=os.environ["DASH_PREFIX"]), health_url=None)
    blueprint = admin_blueprint(allow_anonymous="read", dashboard_interval_s=INTERVAL)
    app.register_blueprint(blueprint, url_prefix="/queues")
    return app


@contextlib.contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """A real uvicorn in a thread of this process; the base URL. Streams must be closed before the end."""
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=free_port(), log_level="warning", timeout_graceful_shutdown=3
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "uvicorn did not stop"


def wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.05)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@dataclass(frozen=True)
class Gunicorn:
    url: str
    prefix: str


def server_command(server: str, port: int) -> list[str]:
    """uvicorn with the FastAPI app, or gunicorn (threaded workers) with the Flask app, of this module."""
    if server == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", "--factory", "tests.test_dashboard_stream:asgi_app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        ]  # fmt: skip
    # gthread: one stream holds one thread while open. The graceful timeout is long on purpose: streams
    # must end by themselves when the worker stops, not be cut at its end.
    return [
        sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads", "16", "--workers", "1",
        "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "20", "tests.test_dashboard_stream:flask_app()",
    ]  # fmt: skip


@contextlib.contextmanager
def run_server(server: str, redis_url: str, prefix: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The server process, answering at `http://127.0.0.1:<port>/queues/` (its port: `.args`)."""
    port = free_port()
    env = {**os.environ, "DASH_URL": redis_url, "DASH_PREFIX": prefix, "PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            server_command(server, port), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    process.port = port  # type: ignore[attr-defined]
    try:
        wait_for_http(f"http://127.0.0.1:{port}/queues/_me", process, log)
        yield process
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def gunicorn(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """The Flask blueprint under gunicorn, shared by this module's Flask tests (each uses its own queue)."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    log = tmp_path_factory.mktemp("gunicorn") / "server.log"
    with run_server("gunicorn", redis_url, prefix, log) as process:
        yield Gunicorn(f"http://127.0.0.1:{process.port}", prefix)  # type: ignore[attr-defined]


@dataclass
class Streams:
    """A served admin mount: `url` ends in /queues/; `rq` writes under the prefix the server reads."""

    url: str
    rq: RedisQ
    poller: Poller | None  # None: in another process (Flask)


@pytest.fixture(params=FLAVORS)
async def streams(request: pytest.FixtureRequest, redis_url: str, prefix: str) -> AsyncIterator[Streams]:
    if request.param == "flask":
        server: Gunicorn = request.getfixturevalue("gunicorn")
        async with RedisQ(redis_url, prefix=server.prefix) as client:
            yield Streams(f"{server.url}/queues/", client, None)
        return
    app, poller = build_asgi(request.param, redis_url, prefix)
    with serve_in_thread(app) as url:
        async with RedisQ(redis_url, prefix=prefix) as client:
            yield Streams(f"{url}/queues/", client, poller)


# ---- reading a stream -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    event: str
    id: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


class EventReader:
    """Events of an httpx streaming response; comments (pings) are counted apart."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.comments: list[str] = []

    async def _next(self) -> Event | None:
        fields: dict[str, str] = {}
        data: list[str] = []
        async for line in self._lines:
            if not line:
                if data or fields:
                    return Event(fields.get("event", "message"), fields.get("id"), "\n".join(data))
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
        return None  # the stream ended

    async def next(self, timeout: float = 5.0) -> Event | None:
        return await asyncio.wait_for(self._next(), timeout)

    async def until(self, found: Callable[[Event], bool], timeout: float = 5.0) -> Event:
        async def scan() -> Event:
            while True:
                event = await self._next()
                assert event is not None, "the stream ended"
                if found(event):
                    return event

        return await asyncio.wait_for(scan(), timeout)


def queue_in(snapshot: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((q for q in snapshot["queues"] if q["queue"] == name), None)


# ---- page, files, access (in-process) -----------------------------------------------------------------


@pytest.fixture
def assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Files of our own in place of the page's (written by its own tests' author, and changing)."""
    folder = tmp_path / "static"
    folder.mkdir()
    for name, content in ASSETS.items():
        (folder / name).write_bytes(content)
    (folder / ".hidden").write_bytes(b"secret")
    (folder / "sub").mkdir()
    (folder / "sub" / "x.js").write_bytes(b"nested")
    (tmp_path / "outside.js").write_bytes(b"outside")
    monkeypatch.setattr(page, "STATIC_DIR", folder.resolve())
    return folder


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_browsers_get_the_page_and_everyone_else_the_json(
    flavor: str, rq: RedisQ, queue: str, assets: Path
) -> None:
    await rq.stats(queue)
    async with api_client(flavor, rq, mount="/ops/queues") as client:
        shown = await client.get("/", headers=BROWSER)
        assert shown.status_code == 200 and shown.content == ASSETS["index.html"]
        assert shown.headers["content-type"].startswith("text/html")
        assert shown.headers["content-security-policy"] == page.CSP
        assert "frame-ancestors 'none'" in page.CSP and "script-src 'self'" in page.CSP
        assert shown.headers["x-content-type-options"] == "nosniff"
        assert shown.headers["cache-control"] == "no-store"
        for accept in (None, "*/*", "application/json", "application/json, text/html", "application/*"):
            answer = await client.get("/", headers={} if accept is None else {"accept": accept})
            assert answer.headers["content-type"] == "application/json", accept
            assert "queues" in answer.json()
        # Without the slash, relative URLs would resolve one level up: a browser is sent to the slash.
        bare = await client.get("http://testserver/ops/queues?x=1", headers=BROWSER)
        assert bare.status_code in (307, 308)
        assert httpx.URL("http://testserver/ops/queues?x=1").join(bare.headers["location"]).path == (
            "/ops/queues/"
        )


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_static_files_come_only_from_their_folder(flavor: str, rq: RedisQ, assets: Path) -> None:
    async with api_client(flavor, rq) as client:
        script = await client.get("/_static/app.js")
        assert script.status_code == 200 and script.content == ASSETS["app.js"]
        assert script.headers["content-type"] == "text/javascript; charset=utf-8"
        assert script.headers["x-content-type-options"] == "nosniff"
        assert (await client.get("/_static/app.css")).headers["content-type"] == "text/css; charset=utf-8"
        again = await client.get("/_static/app.js", headers={"if-none-match": script.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        for path in (
            "/_static/missing.js",
            "/_static/.hidden",
            "/_static/sub",
            "/_static/sub/x.js",
            "/_static/..%2Foutside.js",
            "/_static/%2E%2E%2Foutside.js",
            "/_static/..%5Coutside.js",
            "/_static/%00app.js",
        ):
            refused = await client.get(path)
            assert refused.status_code == 404, path
            assert b"outside" not in refused.content and b"secret" not in refused.content


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_the_same_access_rules_as_the_admin_api(
    flavor: str, rq: RedisQ, queue: str, assets: Path
) -> None:
    job = (await rq.enqueue_many([rq.task(name="dash.noop")(lambda: None).call()]))[0]
    events = f"/{job.queue}/jobs/{job.uid}/events"
    async with api_client(flavor, rq, headers={}) as client:
        for path in ("/", "/_me", "/_static/app.js", "/_events", events):
            refused = await client.get(path, headers=BROWSER)
            assert (refused.status_code, refused.json()["error"]) == (401, "not_authenticated"), path
        assert (await client.get("/_me", headers=READER)).json() == {"access": "read"}
        assert (await client.get("/_me", headers=ADMIN)).json() == {"access": "admin"}
    async with api_client(flavor, rq, headers={}, default_auth=False) as client:
        assert (await client.get("/_static/app.js")).status_code == 401  # nothing until configured
    async with api_client(flavor, rq, headers={}, default_auth=False, allow_anonymous="read") as client:
        assert (await client.get("/_me")).json() == {"access": "read"}
        assert (await client.get("/_static/app.js")).status_code == 200


# ---- the snapshot stream -------------------------------------------------------------------------------


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
            assert set(mine) == {*summary, "history"}  # one item of GET M/'s "queues", and its hour
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


async def test_one_poller_feeds_every_stream(redis_url: str, prefix: str, queue: str) -> None:
    """The Redis work per poll stays that of one browser; the poller ends once the browsers are gone."""
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
    """SIGTERM with three streams open: each ends at once, and the server does not wait for them."""
    client = RedisQ(redis_url, prefix=prefix)
    try:
        [job] = client.enqueue_many_sync([client.task(name="dash.noop")(lambda: None).call()])
    finally:
        client.close()
    log = tmp_path / "server.log"
    with run_server(server, redis_url, prefix, log) as process:
        base, ended = f"http://127.0.0.1:{process.port}/queues", []  # type: ignore[attr-defined]

        def follow(path: str, opened: threading.Event) -> None:
            with contextlib.suppress(httpx.TransportError), httpx.stream("GET", base + path, timeout=30) as r:
                for _ in r.iter_raw():
                    opened.set()
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


# ---- the pieces ----------------------------------------------------------------------------------------


def test_accept_headers_and_redirects() -> None:
    browsers = [
        BROWSER["accept"],
        "text/html",
        "text/html;q=0.9, application/json;q=0.8",
        "application/json;q=0.5, text/*",
    ]
    others = [None, "", "*/*", "application/json", "text/html, application/json", "text/html;q=0", "bogus"]
    assert all(page.prefers_html(a) for a in browsers)
    assert not any(page.prefers_html(a) for a in others)
    assert page.slash_redirect("/ops/queues") == "queues/"
    assert page.slash_redirect("/queues", "a=1") == "queues/?a=1"
    assert page.slash_redirect("/queues/") is None


def test_frames() -> None:
    assert sse.frame("snapshot", b'{"a":1}', 7) == b'id: 7\nevent: snapshot\ndata: {"a":1}\n\n'
    assert sse.frame("end", b"a\nb") == b"event: end\ndata: a\ndata: b\n\n"
    assert sse.comment("ping\nx") == b": ping x\n\n"


async def test_a_poll_is_one_round_trip(rq: RedisQ, queue: str) -> None:
    """After the first poll has learned the names, each poll is one pipelined request."""
    task = rq.task(name="dash.noop", queue=queue)(lambda: None)
    [job] = await rq.enqueue_many([task.call()])
    keys = rq.queue_keys(queue)
    minute = int(time.time() // 60)
    await rq.backend().client.hset(keys.minute(minute - 5), mapping={"succeeded": 3, "failed": 1})
    backend = rq.backend()
    sent: list[Any] = []
    execute = backend.execute

    async def recording(request: Any) -> Any:
        sent.append(request)
        return await execute(request)

    backend.execute = recording  # type: ignore[method-assign]
    memory = PollMemory()
    options: dict[str, Any] = {"registered": [queue], "worker_ttl_ms": 15_000, "jobs": [job.id]}
    async with running_worker(rq, queues=["elsewhere"]):  # a live worker, and a heartbeat to read
        await asyncio.sleep(0.2)
        first = await backend.run(poll(rq.queue_keys, rq.settings.prefix, memory, **options))
        sent.clear()
        second = await backend.run(poll(rq.queue_keys, rq.settings.prefix, memory, **options))
    assert len(sent) == 1, sent  # the queue names, stats, minute, workers and the job, together
    [request] = sent
    minutes_read = [c for c in request if getattr(c, "args", ("",))[0] == "HMGET" and queue in c.args[1]]
    assert len(minutes_read) == 1  # this minute only: the hour was read by the first poll
    for result in (first, second):
        [mine] = [q for q in result.queues if q["queue"] == queue]
        assert len(mine["history"]) == HISTORY_MINUTES and mine["history"][-6] == (minute - 5, 3, 1)
        assert [w["queues"] for w in result.workers] == [["elsewhere"]]
        assert result.jobs[job.id] is not None and result.jobs[job.id].state.value == "queued"  # type: ignore[union-attr]


async def test_list_queues_reads_every_queue_in_one_round_trip(rq: RedisQ) -> None:
    names = [f"q-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    await rq.enqueue_many([rq.task(name=f"dash.{n}", queue=n)(lambda: None).call() for n in names])
    backend = rq.backend()
    sent: list[Any] = []
    execute = backend.execute

    async def recording(request: Any) -> Any:
        sent.append(request)
        return await execute(request)

    backend.execute = recording  # type: ignore[method-assign]
    listed = await admin_actions.list_queues(rq)
    assert sorted(q["queue"] for q in listed["queues"]) == sorted(names)
    assert len(sent) == 2  # the known queues, then every queue's stats in one pipeline
