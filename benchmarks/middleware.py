"""RedisQMiddleware's cost per request, against the same FastAPI app without it.

    python -m benchmarks.middleware                     # REDISQ_URL, else a throwaway local server
    python -m benchmarks.middleware --passes 9 --no-http

(a) In-process: the ASGI app is called directly, one request after another (no server, no network), on a
    route that returns a small JSON object, and on a route that enqueues one job (there the enqueue's round
    trip to Redis dominates, so it is reported apart). (b) Through uvicorn: requests over one httpx
    keep-alive connection, one after another.

Requests to the two variants alternate one by one (A B, B A, ...), each timed on its own, and each figure
is the best of several passes: on a shared machine absolute numbers drift by 20% or more from minute to
minute, so only figures taken side by side are compared. Through uvicorn, one server process serves both
variants (under /without and /with) over the same connection, so that they share its CPU and caches.

The middleware runs with workers=0: what is measured is its work per request (request id, trace context,
the response header, after-response jobs), not a worker competing for the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import fastapi
import httpx
import uvicorn
from fastapi import FastAPI

from redisq import JobState, RedisQ, Task
from redisq.core.embedded import free_port, start_embedded
from redisq.fastapi import RedisQMiddleware

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "bench-middleware"

Scope = dict[str, Any]
ASGI = Callable[..., Any]


# ---- the apps ------------------------------------------------------------------------------------------


def client_and_task() -> tuple[RedisQ, Task[[], None]]:
    rq = RedisQ()  # REDISQ_URL and REDISQ_PREFIX, set by main()

    @rq.task(name="bench.noop", queue=QUEUE)
    async def noop() -> None:
        return None

    return rq, noop


def build_app(middleware: bool) -> FastAPI:
    """The same two routes, with or without the middleware; each app has a client of its own."""
    rq, noop = client_and_task()
    app = FastAPI()
    if middleware:
        app.add_middleware(RedisQMiddleware, redisq=rq, workers=0)

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/enqueue")
    async def enqueue() -> dict[str, str]:
        job = await noop.enqueue()
        return {"job": job.id}

    app.state.rq = rq
    return app


def bare_app() -> FastAPI:
    return build_app(middleware=False)


def middleware_app() -> FastAPI:
    return build_app(middleware=True)


VARIANTS: dict[str, Callable[[], FastAPI]] = {"without": bare_app, "with": middleware_app}


class SideBySide:
    """Both variants in one ASGI app: /without/... and /with/... (`uvicorn --factory ...:SideBySide`).

    One server process serves both, so they share its CPU, caches and connection; only the app differs.
    """

    def __init__(self) -> None:
        self.apps = {f"/{name}": factory() for name, factory in VARIANTS.items()}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # the bare app has nothing to start
            await self.apps["/with"](scope, receive, send)
            return
        prefix = "/with" if scope["path"].startswith("/with/") else "/without"
        await self.apps[prefix]({**scope, "root_path": prefix}, receive, send)


def rounds(n: int) -> Iterator[list[str]]:
    """Variant order per round, alternating (A B, B A, ...), so that both see the same minute."""
    names = list(VARIANTS)
    for i in range(n):
        yield names if i % 2 == 0 else names[::-1]


def best_of(passes: list[dict[str, float]]) -> dict[str, float]:
    return {name: min(p[name] for p in passes) for name in VARIANTS}


@dataclass
class Row:
    what: str
    without_us: float
    with_us: float
    unit_note: str = ""  # e.g. requests/s, for the HTTP rows

    @property
    def ratio(self) -> float:
        return self.with_us / self.without_us


# ---- (a) in-process ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def lifespan(app: ASGI) -> AsyncIterator[None]:
    """Startup and shutdown as a server sends them (the middleware connects at startup)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    running = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await running


def http_scope(method: str, path: str) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench"), (b"user-agent", b"bench"), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def check(app: ASGI, scope: Scope) -> None:
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app({**scope, "state": {}}, receive, send)
    assert statuses == [200], statuses


async def one_pass(apps: dict[str, ASGI], scope: Scope, n: int) -> dict[str, float]:
    """Mean µs per request of each app, over `n` rounds of one request to each, timed one by one."""

    async def send(message: dict[str, Any]) -> None:
        return None

    clock = time.perf_counter
    total = dict.fromkeys(apps, 0.0)
    for order in rounds(n):
        for name in order:
            app, fresh = apps[name], {**scope, "state": {}}  # the middleware writes to the request's state
            started = clock()
            await app(fresh, receive, send)
            total[name] += clock() - started
    return {name: t / n * 1e6 for name, t in total.items()}


async def in_process(passes: int, calls: int, enqueue_calls: int) -> list[Row]:
    apps: dict[str, ASGI] = {name: factory() for name, factory in VARIANTS.items()}
    rows: list[Row] = []
    async with contextlib.AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(lifespan(app))
        for method, path, n, label in (
            ("GET", "/ping", calls, "in-process ASGI, GET /ping (small JSON)"),
            ("POST", "/enqueue", enqueue_calls, "in-process ASGI, POST /enqueue (one job)"),
        ):
            scope = http_scope(method, path)
            for app in apps.values():
                await check(app, scope)
            await one_pass(apps, scope, max(n // 10, 50))  # warm: routes built, scripts loaded
            results = []
            for _ in range(passes):
                gc.collect()
                results.append(await one_pass(apps, scope, n))
            best = best_of(results)
            rows.append(Row(label, best["without"], best["with"]))
        for app in apps.values():
            await app.state.rq.purge(QUEUE, JobState.QUEUED)
    return rows


# ---- (b) through uvicorn -------------------------------------------------------------------------------


class Server:
    """One uvicorn process serving both variants side by side."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "uvicorn", "benchmarks.middleware:SideBySide", "--factory"]
        options = ["--port", str(self.port), "--no-access-log", "--log-level", "warning"]
        self.process = subprocess.Popen([*command, *options], cwd=ROOT, env=env)

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/with/ping", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"uvicorn did not answer on {self.url}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def http_pass(client: httpx.Client, n: int) -> dict[str, float]:
    clock = time.perf_counter
    total = dict.fromkeys(VARIANTS, 0.0)
    for order in rounds(n):
        for name in order:
            started = clock()
            client.get(f"/{name}/ping").raise_for_status()
            total[name] += clock() - started
    return {name: t / n * 1e6 for name, t in total.items()}


def through_uvicorn(passes: int, requests: int, env: dict[str, str]) -> list[Row]:
    server = Server(env)
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url) as client:  # one connection, kept alive
            http_pass(client, max(requests // 10, 50))
            best = best_of([http_pass(client, requests) for _ in range(passes)])
    finally:
        server.stop()
    note = f"{1e6 / best['without']:,.0f} -> {1e6 / best['with']:,.0f} requests/s"
    label = "uvicorn (h11) + httpx, one keep-alive connection, GET /ping"
    return [Row(label, best["without"], best["with"], note)]


# ---- report --------------------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    lines = [
        "| measurement | without | with RedisQMiddleware | difference | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        diff = r.with_us - r.without_us
        note = f" ({r.unit_note})" if r.unit_note else ""
        figures = f"{r.without_us:,.1f} µs | {r.with_us:,.1f} µs | {diff:+,.1f} µs | {r.ratio:.3f}"
        lines.append(f"| {r.what}{note} | {figures} |")
    return "\n".join(lines)


def commit() -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    return "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.middleware", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--passes", type=int, default=7, help="passes per figure; the best counts (7)")
    parser.add_argument("--calls", type=int, default=5000, help="in-process GET requests per pass (5000)")
    parser.add_argument("--enqueue-calls", type=int, default=2000, help="in-process enqueues per pass (2000)")
    parser.add_argument("--requests", type=int, default=2000, help="HTTP requests per pass (2000)")
    parser.add_argument("--no-http", action="store_true", help="skip the uvicorn figures")
    args = parser.parse_args(argv)

    server = None
    url = os.environ.get("REDISQ_URL") or os.environ.get("REDIS_URL")
    if not url:
        server = start_embedded(port=free_port())
        url = server.url
    env = {**os.environ, "REDISQ_URL": url, "REDISQ_PREFIX": f"bench-mw-{uuid.uuid4().hex[:8]}"}
    os.environ.update(env)  # the in-process apps read them too
    started = datetime.now(timezone.utc)
    try:
        rows = asyncio.run(in_process(args.passes, args.calls, args.enqueue_calls))
        if not args.no_http:
            rows += through_uvicorn(args.passes, args.requests, env)
    finally:
        if server is not None:
            server.stop()
    print(
        f"RedisQMiddleware overhead, {started:%Y-%m-%d %H:%M} UTC, redisq {commit()}, Python "
        f"{sys.version.split()[0]}, FastAPI {fastapi.__version__}, uvicorn {uvicorn.__version__}, "
        f"{os.cpu_count()} CPUs; best of {args.passes} passes, the variants alternating request by request\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
