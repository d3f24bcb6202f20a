"""The dashboard's page, its files, `_me` and its polls, in-process on the three adapters (real Redis)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from redisq import RedisQ
from redisq.admin import actions as admin_actions
from redisq.dashboard import page, sse
from redisq.dashboard.snapshot import HISTORY_MINUTES, PollMemory, poll

from .adminkit import ADMIN, FLAVORS, READER, api_client
from .conftest import running_worker
from .dashboardstreamkit import (
    ASSETS,
    BROWSER,
)


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
        assert (await client.get("/_me", headers=READER)).json() == {"access": "read", "queues": None}
        assert (await client.get("/_me", headers=ADMIN)).json() == {"access": "admin", "queues": None}
    async with api_client(flavor, rq, headers={}, default_auth=False) as client:
        assert (await client.get("/_static/app.js")).status_code == 401  # nothing until configured
    async with api_client(flavor, rq, headers={}, default_auth=False, allow_anonymous="read") as client:
        assert (await client.get("/_me")).json() == {"access": "read", "queues": None}
        assert (await client.get("/_static/app.js")).status_code == 200


# ---- the snapshot stream -------------------------------------------------------------------------------


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


def record_requests(backend: Any) -> list[Any]:
    """Every request the backend sends from now on (one entry per round trip), in order."""
    sent: list[Any] = []
    execute = backend.execute

    async def recording(request: Any) -> Any:
        sent.append(request)
        return await execute(request)

    backend.execute = recording
    return sent


async def test_a_poll_is_one_round_trip(rq: RedisQ, queue: str) -> None:
    """After the first poll has learned the names, each poll is one pipelined request."""
    task = rq.task(name="dash.noop", queue=queue)(lambda: None)
    [job] = await rq.enqueue_many([task.call()])
    keys = rq.queue_keys(queue)
    minute = int(time.time() // 60)
    await rq.backend().client.execute_command(  # a metrics record (metrics.lua): 3 succeeded, 1 failed
        "BITFIELD", keys.metrics("m", minute - 5), "INCRBY", "u32", "#0", 3, "INCRBY", "u32", "#1", 1
    )
    backend = rq.backend()
    sent = record_requests(backend)
    memory = PollMemory()
    options: dict[str, Any] = {"registered": [queue], "worker_ttl_ms": 15_000, "jobs": [job.id]}
    async with running_worker(rq, queues=["elsewhere"]):  # a live worker, and a heartbeat to read
        await asyncio.sleep(0.2)
        first = await backend.run(poll(rq.queue_keys, rq.settings.prefix, memory, **options))
        sent.clear()
        second = await backend.run(poll(rq.queue_keys, rq.settings.prefix, memory, **options))
    assert len(sent) == 1, sent  # the queue names, stats, minute, workers and the job, together
    [request] = sent
    minutes_read = [c for c in request if getattr(c, "args", ("",))[0] == "GETRANGE" and queue in c.args[1]]
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
    sent = record_requests(backend)
    listed = await admin_actions.list_queues(rq)
    assert sorted(q["queue"] for q in listed["queues"]) == sorted(names)
    assert len(sent) == 2  # the known queues, then every queue's stats in one pipeline
