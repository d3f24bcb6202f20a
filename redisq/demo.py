"""`redisq demo`: serve the example FastAPI app (redisq/examples/fastapi_app.py) and send it some traffic.

uvicorn runs in this process on 127.0.0.1, the app's middleware runs one worker in the same event loop,
and with no REDISQ_URL the client starts an embedded throwaway Redis. Once the app is up, a driver makes
real HTTP requests to it (signups, an image resize with progress, an order whose webhooks retry, one of
them until it ends dead) and prints what happened; then the app keeps serving until Ctrl-C, or until
`--duration` seconds have passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from .core.errors import MissingDependency
from .integrations.asgi.protocol import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from types import ModuleType

HOST = "127.0.0.1"
FINAL_STATES = ("succeeded", "dead", "cancelled", "expired")
# The example's webhook retries start at 2 s, sensible for a real subscriber; the demo wants its dead letter
# within seconds. An explicit WEBHOOK_RETRY_BASE_S still wins.
DEMO_RETRY_BASE_S = "0.25"


def require_web() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ModuleNotFoundError as exc:
        raise MissingDependency(
            f"the demo serves a FastAPI app and needs {exc.name}: pip install 'redisq[fastapi]'"
        ) from exc


def listen(port: int) -> socket.socket:
    """A listening socket on `port`, or on a free port if that one is taken (port 0: any free port).

    Bound here rather than by uvicorn, so the port printed is the port served, with no race between the two.
    """
    for candidate in dict.fromkeys((port, 0)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not a listener's port: TIME_WAIT only
        try:
            sock.bind((HOST, candidate))
        except OSError:
            sock.close()
            if candidate == 0:
                raise
            continue
        sock.listen(128)  # connections made before uvicorn accepts wait in the backlog instead of failing
        return sock
    raise AssertionError("unreachable")


class Http:
    """Blocking JSON requests in a thread: the demo needs no HTTP client beyond the standard library."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        # No proxies: an http_proxy variable must not send requests for 127.0.0.1 elsewhere.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    async def __call__(
        self, method: str, path: str, body: object = None, admin: bool = False
    ) -> tuple[int, Any, str]:
        """(status, JSON body, X-Request-ID of the response)."""
        return await asyncio.to_thread(self._request, method, path, body, admin)

    def _request(self, method: str, path: str, body: object, admin: bool) -> tuple[int, Any, str]:
        headers = {"accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if admin:
            headers["authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base_url + path, data, headers, method=method)
        try:
            with self._opener.open(request, timeout=10) as response:
                status, raw, request_id = response.status, response.read(), response.headers["x-request-id"]
        except urllib.error.HTTPError as error:
            with error:
                status, raw, request_id = error.code, error.read(), error.headers["x-request-id"]
        return status, json.loads(raw or b"null"), request_id


class Traffic:
    """What the demo does to the app once it is up, printed as it happens."""

    def __init__(self, http: Http, console: Console, webhooks: tuple[str, ...]) -> None:
        self.http = http
        self.console = console
        self.webhooks = webhooks
        self.stopping: Callable[[], bool] = lambda: False  # the server sets it: its listener may be closed

    def say(self, line: str) -> None:
        self.console.print(f"[dim]{datetime.now():%H:%M:%S}[/dim]  {line}")

    async def run(self) -> None:
        try:
            await self._signups_and_resize()
            await self._webhooks()
            self.say("[bold]traffic done[/bold]: the app keeps serving; open the URLs above (Ctrl-C to stop)")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the demo goes on serving; what failed is worth a line, not a crash
            if self.stopping():
                self.say("stopping before the traffic was done")
            else:
                self.say(f"[red]traffic stopped[/red]: {escape(repr(exc))}")

    async def _job(self, job_id: str, on_change: Callable[[dict[str, Any]], None] | None = None) -> Any:
        """Poll GET /jobs/{id} (the app's own status route) until the job ends; return its last state."""
        last: Any = None
        for _ in range(600):
            _, body, _ = await self.http("GET", f"/jobs/{job_id}")
            if on_change is not None and body != last:
                on_change(body)
            last = body
            if body["state"] in FINAL_STATES:
                return body
            await asyncio.sleep(0.05)
        raise TimeoutError(f"job {job_id} did not finish within 30 s")

    async def _signups_and_resize(self) -> None:
        emails: dict[str, str] = {}
        for address in ("ada@example.com", "grace@example.com", "linus@example.com"):
            status, body, request_id = await self.http("POST", "/signup", {"email": address})
            emails[address] = body["job"]
            self.say(f"POST /signup {address} -> {status}, job {body['job']} (request {request_id[:8]})")

        status, body, _ = await self.http("POST", "/images/resize", {"name": "cat.jpg", "width": 640})
        self.say(f"POST /images/resize cat.jpg -> {status}; progress from GET {body['status']}:")

        def progress(job: dict[str, Any]) -> None:
            if job["state"] == "active" and job["progress"]:
                value, note = job["progress"]["value"], job["progress"]["note"]
                self.say(f"    resize {value:4.0%}  {escape(str(note))}")

        job = await self._job(body["job"], progress)
        self.say(f"[green]✓[/green] resize {job['state']}: {escape(json.dumps(job['result']))}")
        for address, job_id in emails.items():
            queue, _, uid = job_id.rpartition(":")
            await self._job(job_id)
            _, detail, _ = await self.http("GET", f"/queues/{queue}/jobs/{uid}", admin=True)
            request_id = str(detail["request_id"])[:8]
            self.say(
                f"[green]✓[/green] welcome email to {address} {detail['state']} on attempt "
                f"{detail['attempts']}; the job carries its signup's request id {request_id}"
            )

    async def _webhooks(self) -> None:
        async def settled() -> int:
            _, stats, _ = await self.http("GET", "/queues/webhooks", admin=True)
            return int(stats["counters"].get("succeeded", 0)) + int(stats["counters"].get("dead", 0))

        before = await settled()  # the counters live in Redis, which may hold earlier runs
        status, _, _ = await self.http("POST", "/orders/1001/ship")
        self.say(
            f"POST /orders/1001/ship -> {status}; {len(self.webhooks)} webhook deliveries enqueued after "
            "the response, one to a flaky subscriber, one to a gone one"
        )
        for _ in range(600):
            if await settled() >= before + len(self.webhooks):
                break
            await asyncio.sleep(0.05)
        else:
            raise TimeoutError("the webhook deliveries did not settle within 30 s")
        _, ok, _ = await self.http("GET", "/queues/webhooks/jobs?state=succeeded&limit=1", admin=True)
        _, dead, _ = await self.http("GET", "/queues/webhooks/jobs?state=dead&limit=1", admin=True)
        for job in ok["items"]:
            self.say(
                f"[green]✓[/green] webhook to {job['args'][0]} delivered on attempt {job['attempts']} "
                f"({job['attempts'] - 1} retries with backoff)"
            )
        for job in dead["items"]:
            error = job["error"] or {}
            self.say(
                f"[red]✗[/red] webhook to {job['args'][0]} dead after {job['attempts']} attempts: "
                f"{escape(str(error.get('message')))}; kept in GET /queues/webhooks/jobs?state=dead"
            )


class WithTraffic:
    """The app, with a lifespan that starts the traffic once the app is up and stops it before it drains."""

    def __init__(self, app: ASGIApp, traffic: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.app = app
        self.traffic = traffic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        driver: asyncio.Task[None] | None = None

        async def send_wrapped(message: Message) -> None:
            nonlocal driver
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                driver = asyncio.create_task(self.traffic())

        async def receive_wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and driver is not None:
                driver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await driver
            return message

        await self.app(scope, receive_wrapped, send_wrapped)


def banner(console: Console, example: ModuleType, base_url: str, asked_port: int, redis_url: str) -> None:
    port = base_url.rpartition(":")[2]
    token = example.ADMIN_TOKEN
    where = " (embedded and throwaway: set REDISQ_URL to use yours)" if example.rq.embedded else ""
    console.print("[bold]redisq demo[/bold]: the example FastAPI app and its worker, served by uvicorn")
    if asked_port not in (0, int(port)):
        console.print(f"[yellow]port {asked_port} is taken: serving on {port}[/yellow]")
    for label, value in (
        ("Redis", f"{redis_url}{where}"),
        ("App", f"{base_url}/docs"),
        ("Dashboard", f"{base_url}/login?token={token}  (sets a cookie, opens {base_url}/queues/)"),
        ("Admin API", f"{base_url}/queues/  (JSON for non-browsers)"),
        ("Admin token", f"{token}  (Authorization: Bearer <token>, or Authorize in /docs)"),
        ("Health", f"{base_url}/health"),
        ("Try", f"curl -H 'Authorization: Bearer {token}' {base_url}/queues/"),
        ("Source", example.__file__ or "redisq/examples/fastapi_app.py"),
    ):
        console.print(f"  {label:<12} {escape(value)}")
    console.print()


async def serve(app: ASGIApp, traffic: Traffic, sock: socket.socket, duration: float | None) -> None:
    import uvicorn

    # log_config=None: uvicorn's messages go through the logging that the `redisq` command set up.
    config = uvicorn.Config(
        WithTraffic(app, traffic.run), lifespan="on", log_config=None, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    # uvicorn closes its listener before the lifespan shutdown stops the traffic: a request failing in
    # between is part of stopping, not an error.
    traffic.stopping = lambda: server.should_exit

    def time_is_up() -> None:
        server.should_exit = True  # the same graceful stop as Ctrl-C: the worker drains, then exit 0

    if duration is not None:
        asyncio.get_running_loop().call_later(duration, time_is_up)
    await server.serve(sockets=[sock])


def run_demo(port: int = 8000, duration: float | None = None, console: Console | None = None) -> None:
    """Serve the example app on 127.0.0.1:`port` until Ctrl-C or `duration` seconds, with some traffic."""
    require_web()
    console = console or Console(soft_wrap=True)
    os.environ.setdefault("WEBHOOK_RETRY_BASE_S", DEMO_RETRY_BASE_S)
    from .examples import fastapi_app as example

    sock = listen(port)
    base_url = f"http://{HOST}:{sock.getsockname()[1]}"
    try:
        redis_url = example.rq.url  # with none configured, this starts the embedded server now
        banner(console, example, base_url, port, redis_url)
        traffic = Traffic(Http(base_url, example.ADMIN_TOKEN), console, example.SUBSCRIBERS)
        asyncio.run(serve(example.app, traffic, sock, duration))
    except KeyboardInterrupt:
        pass  # uvicorn stopped gracefully on Ctrl-C, then re-raised it for us
    finally:
        sock.close()
        example.rq.close()  # the embedded server, if startup failed before the app could stop it
    console.print("stopped")
