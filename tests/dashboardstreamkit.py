"""Helpers of the dashboard server-side tests: the apps, the servers that serve them, an SSE reader.

Page, files and access run in-process on the three adapters (httpx over ASGI; Flask through a2wsgi).
Streams need a real server (httpx's ASGI transport buffers whole responses): Starlette and FastAPI run in
a uvicorn in a thread of this process, Flask in a gunicorn (gthread) of its own, which closes a stream's
generator when the browser goes away. Shutdown is a uvicorn subprocess and a SIGTERM.

This module is also the app module of the servers: `asgi_app` and `flask_app` read their settings from
the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
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
import uvicorn
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount

from redisq import RedisQ
from redisq.core.embedded import free_port
from redisq.dashboard import page
from redisq.dashboard.poller import Poller
from redisq.integrations.asgi.admin import admin_app
from redisq.integrations.fastapi.admin import admin_router
from redisq.integrations.flask import RedisQ as FlaskRedisQ
from redisq.integrations.flask.admin import admin_blueprint

from .adminkit import FLAVORS

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
            sys.executable, "-m", "uvicorn", "--factory", "tests.dashboardstreamkit:asgi_app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        ]  # fmt: skip
    # gthread: one stream holds one thread while open. The graceful timeout is long on purpose: streams
    # must end by themselves when the worker stops, not be cut at its end.
    return [
        sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads", "16", "--workers", "1",
        "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "20", "tests.dashboardstreamkit:flask_app()",
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
    poller: Poller | None  # None: in another process (Flask), or inside Django's URLs


# Django's WSGI streams run under gunicorn in tests/test_django_servers.py.
@pytest.fixture(params=[f for f in FLAVORS if f != "django-wsgi"])
async def streams(request: pytest.FixtureRequest, redis_url: str, prefix: str) -> AsyncIterator[Streams]:
    if request.param == "flask":
        server: Gunicorn = request.getfixturevalue("gunicorn")
        async with RedisQ(redis_url, prefix=server.prefix) as client:
            yield Streams(f"{server.url}/queues/", client, None)
        return
    if request.param == "django":  # Django's ASGI handler under uvicorn: the streams are async iterators
        from .djangokit import admin_asgi_app

        async with RedisQ(redis_url, prefix=prefix) as client:
            options = {"allow_anonymous": "read", "dashboard_interval_s": INTERVAL}
            with serve_in_thread(admin_asgi_app(client, "/queues", False, **options)) as url:
                yield Streams(f"{url}/queues/", client, None)
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
