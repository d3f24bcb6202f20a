"""The admin API's cost per request on each adapter: FastAPI and Django under uvicorn, Flask and Django under
gunicorn (gthread), one server process each, on the same throwaway redis-server.

    python -m benchmarks.admin_views                 # 3 runs of 5 s per route and server
    python -m benchmarks.admin_views --runs 5 --seconds 10

Two routes: `GET /queues/_me` (no Redis: the framework, the access checks and the JSON) and `GET
/queues/bench` (one queue's stats: one round trip to Redis on top). Eight client threads in this process
keep one keep-alive connection each and send requests back to back for the window; the figure is
requests per second, the median of the runs, and its ratio to Flask's (the other sync-view adapter, on
the same route table). The clients share the machine's two cores with the server, so read ratios, not
absolute rates.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from redisq.core.embedded import free_port, start_embedded

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "bench"
ROUTES = ("_me", QUEUE)
CLIENTS = 8


# ---- the apps (imported by the servers from this module) ----------------------------------------------


def fastapi_app() -> Any:
    from fastapi import FastAPI

    from redisq import RedisQ
    from redisq.fastapi import admin_router

    app = FastAPI()
    app.include_router(admin_router(RedisQ(), allow_anonymous="read"), prefix="/queues")
    return app


def flask_app() -> Any:
    from flask import Flask

    from redisq.flask import RedisQ

    app = Flask("bench")
    extension = RedisQ(app, health_url=None)
    app.register_blueprint(extension.admin_blueprint(allow_anonymous="read"), url_prefix="/queues")
    return app


def _django() -> None:
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            INSTALLED_APPS=["redisq.django"],
            ROOT_URLCONF="benchmarks.admin_views_urls",
            ALLOWED_HOSTS=["127.0.0.1"],
            DEBUG=False,
            MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        )
        import django

        django.setup()


def django_wsgi() -> Any:
    _django()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def django_asgi() -> Any:
    _django()
    from django.core.asgi import get_asgi_application

    return get_asgi_application()


SERVERS = {
    "fastapi, uvicorn": ("uvicorn", "benchmarks.admin_views:fastapi_app"),
    "flask, gunicorn gthread": ("gunicorn", "benchmarks.admin_views:flask_app()"),
    "django, gunicorn gthread (WSGI)": ("gunicorn", "benchmarks.admin_views:django_wsgi()"),
    "django, uvicorn (ASGI)": ("uvicorn", "benchmarks.admin_views:django_asgi"),
}


def command(server: str, app: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", "--factory", app, "--port", str(port), "--log-level", "warning",
            "--no-access-log", "--lifespan", "off",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads", str(CLIENTS),
        "--workers", "1", "--bind", f"127.0.0.1:{port}", app,
    ]  # fmt: skip


@contextlib.contextmanager
def serving(name: str, redis_url: str) -> Iterator[str]:
    server, app = SERVERS[name]
    port = free_port()
    env = {**os.environ, "REDISQ_URL": redis_url, "REDISQ_PREFIX": "adminbench", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command(server, app, port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/queues/"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + QUEUE).status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def rate(url: str, seconds: float) -> float:
    """Requests per second that CLIENTS threads get through, each on its own keep-alive connection."""
    done = [0] * CLIENTS
    start = threading.Barrier(CLIENTS + 1)
    stop_at: list[float] = []

    def client(i: int) -> None:
        with httpx.Client() as http:
            http.get(url)  # the connection, before the window
            start.wait()
            while time.monotonic() < stop_at[0]:
                response = http.get(url)
                assert response.status_code == 200, response.text
                done[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    stop_at.append(time.monotonic() + seconds)
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - began)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    server = start_embedded(port=free_port())
    try:
        from redisq import RedisQ

        with RedisQ(server.url, prefix="adminbench") as rq:  # a queue with something in it

            @rq.task(name="bench.noop", queue=QUEUE)
            def noop() -> None: ...

            rq.enqueue_many_sync([noop.call() for _ in range(100)])
        results: dict[str, dict[str, float]] = {}
        for name in SERVERS:
            with serving(name, server.url) as url:
                results[name] = {
                    route: statistics.median(rate(url + route, args.seconds) for _ in range(args.runs))
                    for route in ROUTES
                }
        flask = results["flask, gunicorn gthread"]
        print(f"admin API requests/s, median of {args.runs} runs of {args.seconds:g} s, {CLIENTS} clients")
        print(f"| server | GET /queues/_me | vs Flask | GET /queues/{QUEUE} | vs Flask |")
        print("|---|---:|---:|---:|---:|")
        for name, by_route in results.items():
            cells = [f"{by_route[r]:,.0f} | {by_route[r] / flask[r]:.2f}" for r in ROUTES]
            print(f"| {name} | {' | '.join(cells)} |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
