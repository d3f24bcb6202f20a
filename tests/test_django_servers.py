"""The example Django project (examples/django_project) under real servers, gunicorn (WSGI, threads) and
uvicorn (ASGI), with `manage.py redisq worker` as a process of its own, on a Redis and a SQLite file of the
module's own: a signup whose email job uses the ORM, a report with progress, the dashboard's stream and
page behind the Django login (in chromium), /health when Redis stops, and a prompt stop with streams open.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from redisq.core.embedded import EmbeddedServer, free_port

from .conftest import own_server
from .djangokit import EXAMPLE

BROWSER = {"accept": "text/html,application/xhtml+xml"}


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached in time"
        time.sleep(0.05)


@dataclass
class Site:
    server: str
    url: str
    redis: EmbeddedServer
    work: Path
    web: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]

    def log(self, name: str) -> str:
        return (self.work / f"{name}.log").read_text(errors="replace")

    def welcomed(self, email: str) -> bool:
        with contextlib.closing(sqlite3.connect(self.work / "db.sqlite3")) as db:
            row = db.execute("SELECT welcomed_at FROM accounts_member WHERE email = ?", (email,)).fetchone()
        return row is not None and row[0] is not None


def server_command(server: str, port: int) -> list[str]:
    if server == "gunicorn":  # threads: a stream holds one while open
        return [
            sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads", "8",
            "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "20", "shop.wsgi:application",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "uvicorn", "shop.asgi:application", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--lifespan", "off",
    ]  # fmt: skip


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=EXAMPLE, env=env, stdout=out, stderr=subprocess.STDOUT)


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=EXAMPLE, env=env, check=True, capture_output=True
    )


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp(f"django-{request.param}")
    with own_server() as redis:
        env = {
            **os.environ,
            "REDISQ_URL": redis.url,
            "SHOP_DB": str(work / "db.sqlite3"),
            "SHOP_MAIL_DIR": str(work / "mail"),
            "SHOP_DEBUG": "0",
            "DJANGO_SUPERUSER_PASSWORD": "pw",
        }
        manage(env, "migrate", "-v0")
        manage(env, "createsuperuser", "--noinput", "--username", "staff", "--email", "staff@example.com")
        port = free_port()
        web = start(server_command(request.param, port), env, work / "web.log")
        worker = start(
            [sys.executable, "manage.py", "redisq", "worker", "--grace", "5"], env, work / "worker.log"
        )
        url = f"http://127.0.0.1:{port}"
        served = Site(request.param, url, redis, work, web, worker)
        try:
            wait_until(lambda: web.poll() is not None or answers(f"{url}/health/live"), what="the server")
            assert web.poll() is None, served.log("web")
            yield served
        finally:
            for process in (web, worker):
                if process.poll() is None:
                    process.kill()
                process.wait(10)


def answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False


def csrf_token(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def log_in(client: httpx.Client) -> None:
    token = csrf_token(client, "/admin/login/")
    form = {"username": "staff", "password": "pw", "csrfmiddlewaretoken": token, "next": "/admin/"}
    assert client.post("/admin/login/", data=form).status_code == 302


def test_the_dashboard_in_chromium_behind_the_django_login(site: Site, browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{site.url}/ops/queues/")  # not logged in: Django's login page, then back here
        page.fill("#id_username", "staff")
        page.fill("#id_password", "pw")
        page.click("input[type=submit]")
        page.wait_for_url(f"{site.url}/ops/queues/**")
        expect(page.locator('article.queue-card[data-queue="emails"]')).to_be_visible()
        expect(page.locator('article.queue-card[data-queue="reports"]')).to_be_visible()
        page.goto(f"{site.url}/admin/")
        page.click("#redisq-module a.section")  # the admin index's link
        expect(page.locator('article.queue-card[data-queue="emails"]')).to_be_visible()
    finally:
        context.close()


def test_jobs_stream_health_and_stop(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=10) as client:
        # A signup: its welcome email is enqueued on commit, and the worker's job reads and writes the row.
        form = {
            "email": "ada@example.com",
            "name": "Ada",
            "csrfmiddlewaretoken": csrf_token(client, "/signup/"),
        }
        answer = client.post("/signup/", data=form, headers={"X-Request-ID": f"signup-{site.server}"})
        assert answer.status_code == 201, answer.text
        wait_until(lambda: site.welcomed("ada@example.com"), what="the welcome job's write")
        sent = [path.read_text() for path in (site.work / "mail").iterdir()]
        assert any("Hello Ada, welcome aboard." in text for text in sent)

        # A report (an async task on the async ORM) whose progress the page reads from the job.
        log_in(client)
        headers = {"X-CSRFToken": client.cookies["csrftoken"]}
        report = client.post("/reports/", data={"title": "Sales"}, headers=headers).json()["report"]
        seen: list[float] = []

        def built() -> bool:
            body = client.get(f"/reports/{report}/").json()
            if body.get("progress"):
                seen.append(body["progress"]["value"])
            return body["status"] == "done" and body["rows"] == 125

        wait_until(built, what="the report")
        assert any(0 < value < 1 for value in seen), seen

        # The admin API and the dashboard's stream, for staff.
        assert client.get("/ops/queues/_me").json()["access"] == "admin"
        with client.stream("GET", "/ops/queues/_events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            text = ""
            for chunk in stream.iter_text():
                text += chunk
                if "event: snapshot" in text and "\n\n" in text.split("event: snapshot", 1)[1]:
                    break
            assert '"reports"' in text and '"emails"' in text
        json = {"content-type": "application/json"}
        evil = client.post("/ops/queues/reports/pause", headers={**json, "origin": "https://evil.example"})
        assert evil.status_code == 403
        assert client.post("/ops/queues/reports/pause", headers=json).json()["paused"] is True
        # A chunked JSON body (no Content-Length): Django reads none under WSGI, so the view reads the input.
        body = b'{"task": "reports.tasks.build_report", "args": [404], "delay_s": 3600}'
        chunked = client.post("/ops/queues/reports/jobs", content=iter([body[:20], body[20:]]), headers=json)
        assert chunked.status_code == 201 and chunked.json()["task"] == "reports.tasks.build_report"
        assert httpx.get(f"{site.url}/ops/queues/", headers=BROWSER).status_code == 302  # anonymous: login

        # The worker stops cleanly; its log lines carry the request's id.
        site.worker.send_signal(signal.SIGTERM)
        assert site.worker.wait(30) == 0, site.log("worker")
        assert f"req=signup-{site.server}" in site.log("worker")

        # Redis stops: /health says so to the load balancer; liveness needs no Redis.
        assert client.get("/health").status_code == 200
        site.redis.stop()
        assert client.get("/health").status_code == 503
        assert client.get("/health/live").status_code == 200

    # The server stops promptly with a stream open (it ends by itself, not at the graceful timeout).
    with httpx.Client(base_url=site.url, timeout=10, cookies=client.cookies) as watcher:
        with watcher.stream("GET", "/ops/queues/_events") as stream:
            chunks = stream.iter_bytes()
            next(chunks)
            stopping = time.monotonic()
            site.web.send_signal(signal.SIGTERM)
            with contextlib.suppress(httpx.TransportError):
                for _ in chunks:
                    pass
        # uvicorn raises the signal again once stopped, as its supervisor expects: it ends "killed" by it.
        assert site.web.wait(15) in (0, -signal.SIGTERM), site.log("web")
        took = time.monotonic() - stopping
        print(f"{site.server} stopped {took:.2f} s after SIGTERM with a stream open")
        assert took < 5, "the server waited for the open stream"
