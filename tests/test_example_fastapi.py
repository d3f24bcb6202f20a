"""The example FastAPI app (redisq/examples/fastapi_app.py) in-process, with its embedded worker."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from types import ModuleType
from typing import Any

import httpx
import pytest

from .asgikit import lifespan

MODULE = "redisq.examples.fastapi_app"
TOKEN = "s3cret-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch, redis_url: str, prefix: str) -> ModuleType:
    """A fresh import of the app, configured by this test's environment (its own key prefix)."""
    for name, value in {
        "REDISQ_URL": redis_url,
        "REDISQ_PREFIX": prefix,
        "ADMIN_TOKEN": TOKEN,
        "WEBHOOK_RETRY_BASE_S": "0.05",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delitem(sys.modules, MODULE, raising=False)  # restored after the test
    return importlib.import_module(MODULE)


@pytest.fixture
async def client(example: ModuleType) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=example.app)
    async with lifespan(example.app), httpx.AsyncClient(transport=transport, base_url="http://shop") as c:
        yield c


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 8.0) -> Any:
    """Poll `check` until it returns something truthy; return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (found := await check()):
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)
    return found


async def test_signup_sends_the_welcome_email_with_the_request_id(
    example: ModuleType, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=MODULE)
    signup = {"email": "ada@example.com"}
    response = await client.post("/signup", json=signup, headers={"X-Request-ID": "req-7"})
    assert response.status_code == 202
    assert response.headers["x-request-id"] == "req-7"
    job = example.rq.job(response.json()["job"])
    assert await job.result(timeout=5) == "welcome email sent to ada@example.com"
    info = await job.info()
    assert (info.queue, info.request_id, info.attempts) == ("emails", "req-7", 1)
    assert "sent the welcome email to ada@example.com" in caplog.text
    assert (await client.post("/signup", json={"email": "not an address"})).status_code == 422


async def test_resize_shows_progress_while_it_runs_then_the_result(client: httpx.AsyncClient) -> None:
    response = await client.post("/images/resize", json={"name": "cat.jpg", "width": 640})
    assert response.status_code == 202
    status_url = response.json()["status"]
    seen: list[tuple[float, str]] = []

    async def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(status_url)).json()
        if body["state"] == "active" and body["progress"] is not None:
            seen.append((body["progress"]["value"], body["progress"]["note"]))
        return body if body["state"] in ("succeeded", "dead") else None

    body = await eventually(finished)
    assert body["state"] == "succeeded"
    assert body["result"] == {"image": "cat-640w.jpg", "width": 640}
    assert body["progress"] == {"value": 1.0, "note": "done"}
    # seen while it ran (at least one step: a loaded machine may poll only once in the 1.25 s), in order;
    # "done" too, when a poll falls between the task's last report and its return (CI saw it)
    assert seen, "no progress was seen while the job ran"
    assert seen == sorted(seen) and all(0 <= value <= 1 for value, _ in seen), seen
    steps = {"downloading", "decoding", "resizing", "encoding", "uploading"}
    assert {note for _, note in seen} <= {*steps, "done"}, seen
    # the admin API shows the same job
    queue, uid = body["id"].split(":")
    detail = await client.get(f"/queues/{queue}/jobs/{uid}", headers=ADMIN)
    assert (detail.status_code, detail.json()["state"]) == (200, "succeeded")


async def test_webhooks_after_the_response_retry_then_succeed_or_end_dead(
    example: ModuleType, client: httpx.AsyncClient
) -> None:
    assert (await client.post("/orders/0/ship")).status_code == 404  # failed: nothing is enqueued
    response = await client.post("/orders/1001/ship")
    assert response.json() == {"order": 1001, "status": "shipped"}

    async def settled() -> dict[str, Any] | None:
        stats: dict[str, Any] = (await client.get("/queues/webhooks", headers=ADMIN)).json()
        return stats if stats["dead"] + stats["counters"].get("succeeded", 0) == 2 else None

    stats = await eventually(settled)
    assert stats["counters"]["enqueued"] == 2  # the refused order sent nothing
    ok = (await client.get("/queues/webhooks/jobs?state=succeeded", headers=ADMIN)).json()["items"]
    dead = (await client.get("/queues/webhooks/jobs?state=dead", headers=ADMIN)).json()["items"]
    assert [(j["args"][0], j["attempts"]) for j in ok] == [(example.FLAKY_SUBSCRIBER, 3)]
    assert ok[0]["result"] == {"url": example.FLAKY_SUBSCRIBER, "status": 200, "attempt": 3}
    assert [(j["args"][0], j["attempts"]) for j in dead] == [(example.GONE_SUBSCRIBER, 4)]
    assert dead[0]["error"]["type"].endswith("DeliveryFailed")
    assert "answered 503 on attempt 4" in dead[0]["error"]["message"]
    assert dead[0]["args"][1] == {"type": "order.shipped", "order": 1001}


async def test_the_admin_api_needs_the_bearer_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = await client.get("/queues/", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["error"] == "not_authenticated"
    assert (await client.get("/queues/", headers=ADMIN)).status_code == 200
    paused = await client.post("/queues/emails/pause", headers=ADMIN)
    assert paused.json() == {"queue": "emails", "paused": True}
    refused = await client.post("/queues/emails/resume", headers={"Authorization": "Bearer no"})
    assert refused.status_code == 401
    assert (await client.post("/queues/emails/resume", headers=ADMIN)).json()["paused"] is False


async def test_health_and_job_status_routes(client: httpx.AsyncClient) -> None:
    ready = await client.get("/health")
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")
    assert (await client.get("/health/live")).json() == {"status": "alive"}
    for missing in ("nonsense", "emails:0123456789abcdef0123456789abcdef"):
        assert (await client.get(f"/jobs/{missing}")).status_code == 404
    assert (await client.get("/docs")).status_code == 200


async def test_the_dashboard_opens_in_a_browser_after_login(client: httpx.AsyncClient) -> None:
    browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    assert (await client.get("/login", params={"token": "wrong"})).status_code == 403
    assert (await client.get("/queues/", headers=browser)).status_code == 401  # no cookie yet
    login = await client.get("/login", params={"token": TOKEN})
    assert login.status_code == 303 and login.headers["location"] == "queues/"
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/queues" in cookie
    page = await client.get("/queues/", headers=browser)  # httpx keeps the cookie, as a browser does
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert (await client.get("/queues/_me")).json() == {"access": "admin", "queues": None}
