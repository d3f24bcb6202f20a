"""The job listing's filters (issue 17), one contract for Starlette, FastAPI and Flask: every filter and
their combinations, the same answer as before without one, a 422 for an unknown filter or a bad value,
and a bounded search that says how far it went and finds the rest when asked to go on."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from redisq import JobFailed, RedisQ
from redisq.core import context

from .adminkit import FLAVORS, READER, api_client
from .conftest import running_worker

pytestmark = pytest.mark.parametrize("flavor", FLAVORS)
PAGE_KEYS = {"items", "state", "order", "offset", "limit", "total"}


async def _ids(client: httpx.AsyncClient, queue: str, **params: Any) -> list[str]:
    answer = await client.get(f"/{queue}/jobs", params=params)
    assert answer.status_code == 200, answer.text
    return [item["uid"] for item in answer.json()["items"]]


async def test_every_filter_and_their_combinations(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="mail.send")
    async def send(to: str, subject: str = "") -> None: ...

    @rq.task(name="report.build")
    async def build(n: int, request_id: str = "") -> None: ...

    token = context.request_id.set("req-42")
    try:
        signup = await send.enqueue("ann@example.com", subject="Welcome")
    finally:
        context.request_id.reset(token)
    invoice = await send.enqueue("bob@example.com", subject="Invoice 7")
    lookalike = await build.enqueue(1, request_id="req-42")  # a keyword argument, not the request's id
    other = await build.enqueue(2)
    async with api_client(flavor, rq, headers=READER) as client:  # readers may search
        plain = await client.get(f"/{queue}/jobs")
        assert set(plain.json()) == PAGE_KEYS  # no filter: the answer of before, key for key
        assert [i["uid"] for i in plain.json()["items"]] == [
            other.uid,
            lookalike.uid,
            invoice.uid,
            signup.uid,
        ]
        assert await _ids(client, queue, task="mail.send") == [invoice.uid, signup.uid]
        assert await _ids(client, queue, task="mail") == []  # a name, not a prefix
        assert await _ids(client, queue, q="Invoice") == [invoice.uid]
        assert await _ids(client, queue, q='"subject":"Welcome"') == [signup.uid]  # the JSON as stored
        assert await _ids(client, queue, q="req-42") == [lookalike.uid]  # not the meta's request id
        assert await _ids(client, queue, q="mail.send") == []  # nor the task's name
        assert await _ids(client, queue, request_id="req-42") == [signup.uid]  # not a kwarg of that name
        assert await _ids(client, queue, task="mail.send", q="example.com", order="oldest") == [
            signup.uid,
            invoice.uid,
        ]
        assert await _ids(client, queue, task="report.build", request_id="req-42") == []
        since = (datetime.now(timezone.utc) - timedelta(minutes=5)).replace(microsecond=0)
        answer = await client.get(
            f"/{queue}/jobs", params={"task": "mail.send", "q": "@", "since": since.isoformat(), "limit": 1}
        )
        body = answer.json()
        assert set(body) == PAGE_KEYS | {"filter", "searched", "next"}
        assert [i["uid"] for i in body["items"]] == [invoice.uid] and body["items"][0]["task"] == "mail.send"
        assert body["filter"] == {
            "task": "mail.send",
            "q": "@",
            "since": since.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        assert (body["searched"], body["total"], body["next"], body["offset"]) == (3, 4, 3, 0)
        rest = (
            await client.get(f"/{queue}/jobs", params={"task": "mail.send", "offset": body["next"]})
        ).json()
        assert [i["uid"] for i in rest["items"]] == [signup.uid] and rest["next"] is None
        future = (datetime.now(timezone.utc) + timedelta(hours=1)).timestamp()
        assert await _ids(client, queue, since=f"{future:.3f}") == []
        assert len(await _ids(client, queue, until=str(int(future)))) == 4


async def test_error_type_and_time_range_of_dead_jobs(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="charge", retries=0)
    async def charge(card: str) -> None:
        raise (TimeoutError if card.startswith("slow") else PermissionError)(f"card {card}")

    base = rq.now_ms()
    async with running_worker(rq):
        for hour in range(3):  # deaths an hour apart on the client's clock (the worker's too)
            rq.clock_offset_ms = hour * 3_600_000
            for card in (f"slow-{hour}", f"locked-{hour}"):
                with pytest.raises(JobFailed):
                    await (await charge.enqueue(card)).result(timeout=10)
        rq.clock_offset_ms = 0

    def at(hours: float, offset_h: int = 0) -> str:  # ISO 8601 in another zone than UTC
        zone = timezone(timedelta(hours=offset_h))
        return datetime.fromtimestamp(base / 1000 + hours * 3600, tz=zone).isoformat()

    async with api_client(flavor, rq) as client:
        assert len(await _ids(client, queue, state="dead", error="TimeoutError")) == 3
        assert await _ids(client, queue, state="dead", error="Timeout") == []
        hour_one = {"state": "dead", "since": at(0.5, 2), "until": at(1.5, -5)}
        answer = (await client.get(f"/{queue}/jobs", params=hour_one)).json()
        assert sorted(i["args"][0] for i in answer["items"]) == ["locked-1", "slow-1"]
        assert (answer["searched"], answer["total"]) == (2, 6)  # the range, not the index, was walked
        epoch = {"state": "dead", "since": f"{base / 1000 + 1.5 * 3600:.3f}", "error": "PermissionError"}
        assert [i["args"][0] for i in (await client.get(f"/{queue}/jobs", params=epoch)).json()["items"]] == [
            "locked-2"
        ]


async def test_an_unknown_filter_or_a_bad_value_is_a_422(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="noop")
    async def noop() -> None: ...

    await noop.enqueue()
    async with api_client(flavor, rq) as client:
        for field, params in [
            ("tag", {"tag": "x"}),
            ("task", {"task": ""}),
            ("q", {"q": "x" * 501}),
            ("since", {"since": "yesterday"}),
            ("since", {"since": "2026-03-29T02:30:00"}),  # no offset: no moment
            ("until", {"until": "2026-13-01T00:00:00Z"}),
            ("until", {"since": "2026-03-29T02:30:00Z", "until": "2026-03-29T02:30:00Z"}),
            ("since", {"since": "-5"}),
            ("limit", {"task": "noop", "limit": "0"}),
            ("state", {"task": "noop", "state": "cancelled"}),
            ("offset", {"q": "x", "offset": "-1"}),
        ]:
            refused = await client.get(f"/{queue}/jobs", params=params)
            assert refused.status_code == 422, (params, refused.text)
            body = refused.json()
            assert (body["error"], body["field"]) == ("invalid_parameter", field), (params, body)
        assert (await client.get("/no-such-queue/jobs", params={"task": "noop"})).status_code == 404


async def test_a_search_stops_at_its_bound_and_goes_on_from_there(
    flavor: str, rq: RedisQ, queue: str
) -> None:
    @rq.task(name="bulk.item")
    async def item(n: int) -> None: ...

    @rq.task(name="rare.item")
    async def rare(n: int) -> None: ...

    # The three that match are the oldest: newest first, they are beyond the first 5,000 entries.
    await rq.enqueue_many([rare.call(n) for n in range(3)])
    await rq.enqueue_many([item.call(n) for n in range(5_200)])
    async with api_client(flavor, rq) as client:
        first = (await client.get(f"/{queue}/jobs", params={"task": "rare.item", "limit": 10})).json()
        assert (first["items"], first["searched"], first["total"], first["next"]) == ([], 5_000, 5_203, 5_000)
        rest = (
            await client.get(
                f"/{queue}/jobs", params={"task": "rare.item", "limit": 10, "offset": first["next"]}
            )
        ).json()
        assert [i["args"] for i in rest["items"]] == [[2], [1], [0]]
        assert (rest["searched"], rest["next"]) == (203, None)
        answer = await client.get(
            f"/{queue}/jobs", params={"task": "bulk.item", "limit": 500, "order": "oldest"}
        )
        assert (len(answer.json()["items"]), answer.json()["searched"], answer.json()["next"]) == (
            500,
            503,
            503,
        )
