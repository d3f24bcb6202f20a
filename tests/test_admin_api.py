"""The `/queues` admin API end to end, against a real Redis: the Starlette app and the FastAPI router.

Every test runs once per adapter; both must answer the same requests the same way. Here: access, paging,
reading jobs, errors and mounting. The actions are in test_admin_api_actions.py; a real uvicorn server
and fuzzing from the OpenAPI schema in test_admin_api_server.py.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from redisq import RedisQ
from redisq.admin.access import Access
from redisq.core import context
from redisq.core.embedded import free_port

from .adminkit import ADMIN, FLAVORS, READER, api_client, job_path, wait_until
from .conftest import running_worker

pytestmark = pytest.mark.parametrize("flavor", FLAVORS)


async def test_nothing_is_served_until_access_is_configured(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="admin.noop")
    async def noop() -> None: ...

    async with api_client(flavor, rq, default_auth=False) as client:
        refused = await client.get("/")
        assert refused.status_code == 401
        assert refused.json()["error"] == "not_authenticated" and "allow_anonymous" in refused.json()["hint"]
        assert (await client.post(f"/{queue}/pause")).status_code == 401
    async with api_client(flavor, rq, headers={}, default_auth=False, allow_anonymous="read") as client:
        assert (await client.get(f"/{queue}")).status_code == 200
        refused = await client.post(f"/{queue}/pause")
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    async with api_client(flavor, rq, headers={}, default_auth=False, allow_anonymous=Access.ADMIN) as client:
        assert (await client.post(f"/{queue}/pause")).json() == {"queue": queue, "paused": True}


async def test_auth_grants_read_or_admin(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="admin.noop")
    async def noop() -> None: ...

    async with api_client(flavor, rq, headers={}) as client:
        assert (await client.get("/")).status_code == 401
        assert (await client.get("/", headers={"x-role": "nobody"})).status_code == 401
        assert (await client.get("/", headers=READER)).status_code == 200
        writes = [
            client.post(f"/{queue}/pause", headers=READER),
            client.delete(f"/{queue}/jobs", params={"state": "dead"}, headers=READER),
            client.post(f"/{queue}/jobs", json={"task": "admin.noop"}, headers=READER),
        ]
        assert [r.status_code for r in await asyncio.gather(*writes)] == [403, 403, 403]
        assert (await rq.stats(queue)).queued == 0 and not (await rq.stats(queue)).paused
        assert (await client.post(f"/{queue}/pause", headers=ADMIN)).status_code == 200
    # Readers may browse anonymously while writes still need a login: a 401, not a 403.
    async with api_client(flavor, rq, headers={}, allow_anonymous="read") as client:
        assert (await client.get(f"/{queue}")).status_code == 200
        assert (await client.post(f"/{queue}/resume")).status_code == 401
        assert (await client.post(f"/{queue}/resume", headers=ADMIN)).status_code == 200


async def test_auth_may_be_sync_or_answer_true(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="admin.noop")
    async def noop() -> None: ...

    def always() -> bool:  # a FastAPI dependency without parameters; Starlette passes the request
        return True

    auth = always if flavor == "fastapi" else (lambda request: True)  # Starlette and Flask pass the request
    async with api_client(flavor, rq, headers={}, auth=auth) as client:
        assert (await client.post(f"/{queue}/pause")).status_code == 200


async def test_cross_site_writes_are_refused(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="admin.noop")
    async def noop() -> None: ...

    trusted = "https://admin.example.com"
    async with api_client(flavor, rq, trusted_origins=[trusted]) as client:
        pause = f"/{queue}/pause"
        for headers in (
            {"origin": "https://evil.example"},
            {"origin": "null"},
            {"origin": "http://testserver:8080"},  # another port is another origin
            {"origin": "https://testserver"},  # and so is another scheme
            {"sec-fetch-site": "cross-site"},
            {"sec-fetch-site": "same-site"},  # a sibling subdomain is another site's page too
            {"sec-fetch-site": "cross-site", "origin": "http://testserver"},
        ):
            refused = await client.post(pause, headers=headers)
            assert refused.status_code == 403, headers
            assert refused.json()["detail"].startswith("cross-site request refused")
        for headers in (
            {},  # no browser headers: curl, a script, a server
            {"origin": "http://testserver"},
            {"origin": "http://TestServer:80"},
            {"sec-fetch-site": "same-origin", "origin": "http://testserver"},
            {"sec-fetch-site": "none"},
            {"origin": trusted, "sec-fetch-site": "cross-site"},
        ):
            assert (await client.post(pause, headers=headers)).status_code == 200, headers
        assert (await client.get(f"/{queue}", headers={"origin": "https://evil.example"})).status_code == 200
        # What a cross-site HTML form can send, even to a route that takes JSON: refused unread.
        for content_type in (
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data; boundary=x",
        ):
            form = await client.post(
                f"/{queue}/jobs", content=b"task=admin.noop", headers={"content-type": content_type}
            )
            assert form.status_code == 415, content_type
            assert form.json()["error"] == "unsupported_media_type"
        assert (
            await client.post(pause, content=b"{}", headers={"content-type": "text/plain"})
        ).status_code == 415
    assert (await rq.stats(queue)).queued == 0


async def test_pages_through_ten_thousand_jobs(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="admin.noop")
    async def noop(i: int) -> None: ...

    jobs = await rq.enqueue_many([noop.call(i) for i in range(10_000)])
    order = "newest" if flavor == "starlette" else "oldest"
    seen: list[str] = []
    async with api_client(flavor, rq) as client:
        for offset in range(0, 10_500, 500):
            params = {"state": "queued", "offset": offset, "limit": 500, "order": order}
            page = (await client.get(f"/{queue}/jobs", params=params)).json()
            assert (page["total"], page["offset"], page["limit"], page["order"]) == (
                10_000,
                offset,
                500,
                order,
            )
            assert len(page["items"]) == (500 if offset < 10_000 else 0)
            seen += [item["id"] for item in page["items"]]
        assert (await client.get(f"/{queue}/jobs", params={"state": "dead"})).json()["total"] == 0
    expected = [job.id for job in jobs]  # one priority: the queue is FIFO, so oldest first is enqueue order
    assert seen == (expected if order == "oldest" else expected[::-1])
    assert len(set(seen)) == 10_000


async def test_paging_parameters_are_checked(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="admin.noop")
    async def noop() -> None: ...

    await noop.enqueue()
    async with api_client(flavor, rq) as client:
        first = (await client.get(f"/{queue}/jobs")).json()  # defaults: queued, newest first, 50
        assert (first["state"], first["order"], first["offset"], first["limit"], first["total"]) == (
            "queued",
            "newest",
            0,
            50,
            1,
        )
        for field, value in [
            ("limit", "0"),
            ("limit", "501"),
            ("limit", "ten"),
            ("limit", "1.5"),
            ("offset", "-1"),
            ("offset", "99999999999999999999"),
            ("state", "cancelled"),  # a state with no index cannot be listed
            ("state", "bogus"),
            ("order", "sideways"),
        ]:
            bad = await client.get(f"/{queue}/jobs", params={field: value})
            assert bad.status_code == 422, (field, value)
            assert bad.json()["field"] == field and isinstance(bad.json()["detail"], str)
        for state in (None, "active", "cancelled"):
            params = {} if state is None else {"state": state}
            assert (await client.delete(f"/{queue}/jobs", params=params)).status_code == 422
    assert (await rq.stats(queue)).queued == 1


async def test_one_job_in_full(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="admin.fails", retries=0)
    async def fails(n: int) -> None:
        raise ValueError(f"bad {n}")

    @rq.task(name="admin.doubles")
    async def doubles(n: int) -> int:
        return 2 * n

    token = context.request_id.set("req-123")
    try:
        bad, good = await fails.enqueue(3), await doubles.enqueue(n=21)
    finally:
        context.request_id.reset(token)
    async with running_worker(rq):
        assert await good.result(timeout=5) == 42

        async def dead() -> bool:
            return (await bad.info()).state.value == "dead"

        await wait_until(dead)
    async with api_client(flavor, rq) as client:
        failed = (await client.get(job_path(bad.id))).json()
        done = (await client.get(job_path(good.id))).json()
    assert (failed["id"], failed["queue"], failed["uid"]) == (bad.id, queue, bad.uid)
    assert (failed["task"], failed["state"], failed["args"], failed["kwargs"]) == (
        "admin.fails",
        "dead",
        [3],
        {},
    )
    assert (failed["attempts"], failed["max_attempts"], failed["recovered"]) == (1, 1, 0)
    assert failed["error"]["type"] == "ValueError" and failed["error"]["message"] == "bad 3"
    assert "Traceback" in failed["error"]["traceback"] and "raise ValueError" in failed["error"]["traceback"]
    assert failed["request_id"] == "req-123" and failed["result"] is None
    assert all(failed[t].endswith("Z") for t in ("enqueued_at", "started_at", "finished_at"))
    assert failed["enqueued_at"] <= failed["started_at"] <= failed["finished_at"]
    assert (done["state"], done["result"], done["kwargs"], done["error"]) == (
        "succeeded",
        42,
        {"n": 21},
        None,
    )
    assert done["worker"] is not None and done["due_at"] is None


async def test_unknown_queues_jobs_and_routes_are_404(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="admin.noop")
    async def noop() -> None: ...

    job = await noop.enqueue()
    async with api_client(flavor, rq) as client:
        for method, path in [
            ("GET", "/nope"),
            ("GET", "/nope/jobs"),
            ("POST", "/nope/pause"),
            ("POST", "/nope/dead/requeue"),
            ("DELETE", "/nope/jobs?state=dead"),
        ]:
            missing = await client.request(method, path)
            assert (missing.status_code, missing.json()["error"]) == (404, "queue_not_found"), path
        for uid in (uuid.uuid4().hex, f"{job.uid}:x", "x%3A" + job.uid):
            assert (await client.get(f"/{queue}/jobs/{uid}")).status_code == 404, uid
        assert (await client.get(f"/{queue}/jobs/{job.uid}")).status_code == 200
        assert (await client.get(f"/{queue}/nothing/here")).status_code == 404
        wrong_method = await client.put(f"/{queue}/pause")
        assert wrong_method.status_code == 405 and "detail" in wrong_method.json()


async def test_redis_unreachable_is_503(flavor: str, prefix: str, queue: str) -> None:
    async with RedisQ(f"redis://127.0.0.1:{free_port()}/0", prefix=prefix, default_queue=queue) as down:

        @down.task(name="admin.noop")
        async def noop() -> None: ...

        async with api_client(flavor, down) as client:
            for method, path, body in [
                ("GET", "/", None),
                ("GET", f"/{queue}", None),
                ("GET", f"/{queue}/jobs", None),
                ("GET", f"/{queue}/jobs/{uuid.uuid4().hex}", None),
                ("POST", f"/{queue}/jobs", {"task": "admin.noop"}),
                ("POST", f"/{queue}/pause", None),
            ]:
                answer = await client.request(method, path, json=body)
                assert answer.status_code == 503, path
                assert answer.json() == {
                    "detail": "Redis is unavailable; try again shortly",
                    "error": "redis_unavailable",
                }


async def test_mounts_under_any_prefix_and_behind_a_root_path(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="admin.noop")
    async def noop() -> None: ...

    job = await noop.enqueue()
    async with api_client(flavor, rq, mount="/ops/rq", root_path="/proxy") as client:
        assert str(client.base_url) == "http://testserver/proxy/ops/rq/"
        assert queue in [q["queue"] for q in (await client.get("/")).json()["queues"]]
        assert (await client.get(job_path(job.id))).json()["id"] == job.id
        assert (await client.post(f"{job_path(job.id)}/cancel")).json()["action"] == "cancelled"
