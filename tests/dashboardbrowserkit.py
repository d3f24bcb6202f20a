"""The dashboard's browser tests' kit: the apps under real servers (`Served`), a Chromium driven by
Playwright (`browser`, `open_page`), and what the tests measure on a page. The fixtures are made visible
to every test module by conftest.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect, sync_playwright

from redisq.core.embedded import free_port

from . import browserkit

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MOUNT = "/ops/queues/"
FLAVORS = ("fastapi", "flask")
WAIT_MS = 10_000
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
FINAL = {"succeeded", "dead", "cancelled", "expired", "aborted"}
DASH = "\u2013"  # the pager writes ranges with an en dash

expect.set_options(timeout=WAIT_MS)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(every)


# ---- the servers -------------------------------------------------------------------------------------


@dataclass
class Served:
    """One app under a real server, with its own Redis prefix and queue, and an admin client for its API."""

    flavor: str
    redis_url: str
    queue: str = field(default_factory=lambda: f"dash-{uuid.uuid4().hex[:8]}")
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:12]}")
    port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{MOUNT}"

    def start(self, ready: Callable[[], bool] | None = None) -> Served:
        env = {
            **os.environ,
            "REDISQ_URL": self.redis_url,
            "REDISQ_PREFIX": self.prefix,
            "DASHBOARD_QUEUE": self.queue,
            "PYTHONPATH": str(ROOT),
        }
        if self.flavor == "fastapi":
            self.spawn(
                env,
                "-m",
                "uvicorn",
                "tests.dashboardapp:app",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            )
        else:
            # gthread: each open event stream holds a thread, not the whole (sync) worker process. A stream
            # whose browser left ends at its next write (a ping); shutdown waits at most the grace time.
            self.spawn(
                env,
                *("-m", "gunicorn", "--worker-class", "gthread", "--threads", "16", "--workers", "1"),
                *("--graceful-timeout", "3"),
                *("--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", "tests.dashboardflask:app"),
            )
            self.spawn(
                env,
                *("-m", "flask", "--app", "tests.dashboardflask:app", "redisq", "worker"),
                *("--grace", "2", "--concurrency", "10"),
            )
        wait_until(ready or self.answers, timeout=20)
        return self

    def spawn(self, env: dict[str, str], *args: str) -> None:
        self.processes.append(subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env))

    def answers(self) -> bool:
        try:
            with self.client() as client:
                return client.get(MOUNT).status_code == 200
        except httpx.TransportError:
            return False

    def serves_the_page(self) -> bool:
        """Whether the dashboard's page is served (it needs no Redis, unlike the API)."""
        try:
            with self.client() as client:
                return client.get(MOUNT, headers={"accept": "text/html"}).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.processes.clear()

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            cookies={"role": "admin"},
            headers={"accept": "application/json"},
            timeout=5,
        )

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.client() as client:
            response = client.request(method, f"{MOUNT}{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def enqueue(self, task: str, *args: Any, **options: Any) -> str:
        body = {"task": f"dashboard.{task}", "args": list(args), **options}
        uid: str = self.api("POST", f"{self.queue}/jobs", json=body)["id"].rpartition(":")[2]
        return uid

    def job(self, uid: str) -> dict[str, Any]:
        job: dict[str, Any] = self.api("GET", f"{self.queue}/jobs/{uid}")
        return job

    def wait_final(self, uid: str) -> dict[str, Any]:
        wait_until(lambda: self.job(uid)["state"] in FINAL)
        return self.job(uid)

    def wait_idle(self) -> None:
        def idle() -> bool:
            stats = self.api("GET", self.queue)
            return bool(stats["queued"] == stats["active"] == stats["scheduled"] == 0)

        wait_until(idle)


@pytest.fixture(scope="module", params=FLAVORS)
def served(request: pytest.FixtureRequest, redis_url: str) -> Iterator[Served]:
    app = Served(request.param, redis_url).start()
    yield app
    app.stop()


# ---- the browser -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: while Playwright's sync API runs, its event loop is the thread's running
    # loop, and the suite's async tests (pytest-asyncio) cannot start their own until it stops.
    executable = browserkit.find()
    if executable is None:
        pytest.fail(browserkit.FIX)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=BROWSER_ARGS
        )
        yield launched
        launched.close()


@dataclass
class Watch:
    """What a page did that it must not: open dialogs, throw, or break its Content Security Policy."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def check(self) -> None:
        assert self.dialogs == [], f"a dialog opened: {self.dialogs}"
        assert self.errors == [], f"the page failed: {self.errors}"


@dataclass
class Session:
    context: BrowserContext
    page: Page
    watch: Watch


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Session]]:
    """`open_page(served, role="admin", phone=False)`: a fresh browser context on the dashboard."""
    sessions: list[Session] = []

    def open_(served: Served, role: str = "admin", phone: bool = False, hash: str = "#/") -> Session:
        viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 860}
        context = browser.new_context(viewport=viewport, device_scale_factor=1, is_mobile=phone)
        context.add_cookies([{"name": "role", "value": role, "url": served.url}])
        page = context.new_page()
        watch = Watch()
        page.on("dialog", lambda dialog: (watch.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        page.on("console", watch.console)
        page.goto(served.url + hash)
        session = Session(context, page, watch)
        sessions.append(session)
        return session

    yield open_
    for session in sessions:
        session.context.close()
    for session in sessions:
        session.watch.check()


def shot(page: Page, served: Served, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{served.flavor}-{name}.png"), full_page=True)


def card(page: Page, served: Served) -> Any:
    return page.locator(f'article.queue-card[data-queue="{served.queue}"]')


def count(page: Page, served: Served, label: str) -> Any:
    return card(page, served).locator(f".count-{label.lower()} .count-value")


def lines(locator: Any) -> int:
    """How many lines an element's text takes on screen (the distinct tops of its text's boxes).

    Measured again when the element left the page meanwhile: live pages rebuild rows as snapshots come.
    """
    for _ in range(20):
        found = locator.evaluate(
            """el => {
                if (!el.isConnected) return null;
                const tops = [];
                const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
                for (let text = walker.nextNode(); text; text = walker.nextNode()) {
                    const range = document.createRange();
                    range.selectNodeContents(text);
                    for (const box of range.getClientRects()) if (box.width > 0) tops.push(box.top);
                }
                tops.sort((a, b) => a - b);
                // Boxes of one line can sit a pixel or two apart (fonts, baselines): a line is 8 px on.
                return tops.filter((top, i) => i === 0 || top - tops[i - 1] > 8).length;
            }"""
        )
        if found is not None:
            return int(found)
    raise AssertionError(f"{locator} kept leaving the page")


def cut_with_ellipsis(locator: Any) -> bool:
    return bool(
        locator.evaluate(
            "el => getComputedStyle(el).textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth"
        )
    )
