"""Access per queue (issue 17), one contract for Starlette, FastAPI and Flask: an `auth` that answers with a
`QueueAccess` lets a team see and act on its own queues only. A hidden queue's routes answer 404 as for a
queue that does not exist, its name appears in no answer of any route nor in the dashboard's stream, and
the routes about the whole server are refused."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Header
from starlette.requests import Request

from redisq import RedisQ, chain
from redisq.admin.access import Access, QueueAccess
from redisq.testing import drain

from .adminkit import FLAVORS, build_app
from .conftest import FAST, running_worker
from .dashboardstreamkit import EventReader, build_asgi, serve_in_thread

pytestmark = pytest.mark.parametrize("flavor", FLAVORS)


def parse(header: str | None) -> QueueAccess | Access | None:
    """`x-queues: emails=admin,reports-*=read` grants per queue; `x-queues: *all*` grants ADMIN on all."""
    if not header:
        return None
    if header == "*all*":
        return Access.ADMIN
    return QueueAccess(
        {name: Access(level) for name, _, level in (p.partition("=") for p in header.split(","))}
    )


async def starlette_auth(request: Request) -> Any:
    return parse(request.headers.get("x-queues"))


def fastapi_auth(x_queues: Annotated[str | None, Header()] = None) -> Any:
    return parse(x_queues)


def flask_auth(request: Any) -> Any:
    return parse(request.headers.get("x-queues"))


AUTH = {
    "starlette": starlette_auth,
    "fastapi": fastapi_auth,
    "flask": flask_auth,
    "django": flask_auth,
    "django-wsgi": flask_auth,
}


async def first_snapshot(flavor: str, app: Any, headers: dict[str, str], redis_url: str, prefix: str) -> str:
    """The first snapshot of `/_events`, from a real server (uvicorn) for the ASGI apps; for Flask from
    its test client (a stream through the WSGI bridge in a thread would outlive the test)."""
    if flavor == "flask":
        flask_app = app.app  # a2wsgi's WSGIMiddleware keeps the Flask app
        with flask_app.test_client() as client:
            response = client.get("/queues/_events", headers=headers, buffered=False)
            try:
                for chunk in response.response:
                    text = chunk.decode()
                    if "event: snapshot" in text:
                        return text
            finally:
                response.close()
        raise AssertionError("no snapshot")
    if flavor == "django-wsgi":  # Django's test client: the stream's body as a WSGI server reads it
        return await asyncio.to_thread(django_wsgi_snapshot, app.urlconf, headers)
    if flavor == "django":  # Django's ASGI handler under uvicorn, on the test's client
        served = app
    else:
        served, _ = build_asgi(flavor, redis_url, prefix, auth=AUTH[flavor], allow_anonymous=False)
    with serve_in_thread(served) as url:  # with a client of its own, closed on its server's loop
        client = httpx.AsyncClient(base_url=f"{url}/queues/", headers=headers, timeout=10)
        async with (
            client,
            client.stream("GET", "_events", headers={"accept": "text/event-stream"}) as response,
        ):
            assert response.status_code == 200
            event = await EventReader(response).until(lambda e: e.event == "snapshot", timeout=10)
            return event.data


def django_wsgi_snapshot(urlconf: Any, headers: dict[str, str]) -> str:
    from django.test import Client

    from .djangokit import URLCONF_KEY

    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    response = Client().get("/queues/_events", **meta, **{URLCONF_KEY: urlconf})
    try:
        for chunk in response.streaming_content:
            text = bytes(chunk).decode()
            if "event: snapshot" in text:
                return text
    finally:
        response.close()  # the generator's end: it leaves the poller
    raise AssertionError("no snapshot")


async def test_a_team_never_sees_another_queues_name(
    flavor: str, rq: RedisQ, queue: str, redis_url: str
) -> None:
    hidden = f"hidden{uuid.uuid4().hex[:8]}"

    @rq.task(name="acc.mine", retries=0)
    async def mine(fail: bool = False) -> None:
        if fail:
            raise ValueError("mine")

    @rq.task(name="acc.theirs", queue=hidden, retries=0)
    async def theirs(fail: bool = False) -> None:
        if fail:
            raise ValueError("theirs")

    for fail in (False, True):
        await mine.enqueue(fail)
        await theirs.enqueue(fail)
    flow = await rq.enqueue_workflow(chain(theirs.call(), theirs.call()), id=f"wf-{hidden}")
    await drain(rq, [queue, hidden])
    await theirs.enqueue()  # waiting in the hidden queue, for the health and backlog figures
    their_job = flow.jobs[0]
    await rq.schedules.upsert("acc.theirs", id=f"sched-{hidden}", every=3600)

    app = build_app(flavor, rq, auth=AUTH[flavor])
    team = {"x-queues": f"{queue}=admin"}
    transport = httpx.ASGITransport(app=app)
    async with running_worker(rq, FAST, queues=[queue, hidden]):  # a live worker serving both
        await asyncio.sleep(0.3)  # its heartbeat
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t/queues/", headers=team
        ) as client:
            seen: dict[str, str] = {}
            for path in (
                "",
                "_me",
                "_health",
                "_backlog",
                "_history",
                "_history?range=30d",
                "_schedules",
                queue,
                f"{queue}/jobs?state=succeeded",
                f"{queue}/jobs?state=dead",
                f"{queue}/history",
                f"{queue}/backlog",
            ):
                answer = await client.get(path)
                assert answer.status_code == 200, (path, answer.text)
                seen[path] = answer.text
            seen["_events"] = await asyncio.to_thread(
                asyncio.run, first_snapshot(flavor, app, team, redis_url, rq.settings.prefix)
            )
            for path, text in seen.items():
                assert hidden not in text and "acc.theirs" not in text, (path, text)
            assert queue in seen[""] and queue in seen["_events"]
            assert (await client.get("_me")).json() == {"access": "admin", "queues": {queue: "admin"}}

            for path in (
                hidden,
                f"{hidden}/jobs?state=dead",
                f"{hidden}/history",
                f"{hidden}/backlog",
                f"{hidden}/jobs/{their_job.uid}",
                f"_backlog?queues={hidden}",
                f"_schedules/sched-{hidden}",
                f"_workflows/wf-{hidden}",
            ):
                answer = await client.get(path)
                assert answer.status_code == 404, (path, answer.text)
                assert answer.json()["error"].endswith("_not_found"), (path, answer.text)
            for action in (
                client.post(f"{hidden}/pause"),
                client.post(f"{hidden}/jobs/{their_job.uid}/retry"),
                client.delete(f"{hidden}/jobs", params={"state": "dead"}),
                client.post(f"_schedules/sched-{hidden}/run"),
            ):
                assert (await action).status_code == 404
            for path in ("_redis", "_metrics"):  # about the whole server: every queue, or nothing
                answer = await client.get(path)
                assert answer.status_code == 403 and answer.json()["error"] == "forbidden", answer.text

            # Someone granted every queue sees both, as before.
            everyone = (await client.get("", headers={"x-queues": "*all*"})).json()
            assert {q["queue"] for q in everyone["queues"]} >= {queue, hidden}
    assert await rq.stats(hidden) is not None  # nothing of the hidden queue was touched by the refusals
    assert not (await rq.stats(hidden)).paused


async def test_read_on_a_queue_is_read_only_there(flavor: str, rq: RedisQ, queue: str) -> None:
    other = f"{queue}-rw"

    @rq.task(name="acc.noop", retries=0)
    async def noop() -> None:
        raise ValueError("dead")

    @rq.task(name="acc.other", queue=other, retries=0)
    async def other_noop() -> None:
        raise ValueError("dead")

    job = await noop.enqueue()
    other_job = await other_noop.enqueue()
    await drain(rq, [queue, other])
    app = build_app(flavor, rq, auth=AUTH[flavor])
    transport = httpx.ASGITransport(app=app)
    headers = {"x-queues": f"{queue}=read,{queue}-r*=admin"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t/queues", headers=headers) as client:
        assert (await client.get(f"/{queue}/jobs/{job.uid}")).status_code == 200
        refused = await client.post(f"/{queue}/jobs/{job.uid}/retry")
        assert refused.status_code == 403 and "admin access to queue" in refused.json()["detail"]
        assert (await client.post(f"/{queue}/pause")).status_code == 403
        # The pattern grants admin on the other queue.
        assert (await client.post(f"/{other}/jobs/{other_job.uid}/retry")).status_code == 200
        assert (await client.get("/_me")).json() == {
            "access": "admin",
            "queues": {queue: "read", other: "admin"},
        }
        nothing = await client.get("/", headers={"x-queues": f"{queue}-none=read"})
        assert nothing.status_code == 200 and nothing.json() == {"queues": []}
