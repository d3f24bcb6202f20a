"""Bulk actions (issue 17), one contract for Starlette, FastAPI and Flask: `POST M/{queue}/bulk` on a
selection and on what a filter matches, batch after batch with exact counts and the other jobs untouched,
every skipped job counted under its reason, a 422 for a request that cannot be meant, admins only."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from redisq import Job, JobState, RedisQ, Task

from .adminkit import FLAVORS, READER, api_client
from .conftest import running_worker

pytestmark = pytest.mark.parametrize("flavor", FLAVORS)


@pytest.fixture
def charge(rq: RedisQ) -> Task[Any, Any]:
    @rq.task(name="billing.charge", retries=0)
    async def charge(customer: str, cents: int) -> None:
        raise ValueError(f"card of {customer} declined")

    return charge


async def _all_dead(rq: RedisQ, queue: str, n: int) -> None:
    async with running_worker(rq):
        for _ in range(1200):
            if (await rq.stats(queue)).dead == n:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"not all {n} jobs died")


async def _bulk(client: httpx.AsyncClient, queue: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post(f"/{queue}/bulk", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    assert result["done"] + sum(result["skipped"].values()) == (0 if result["dry_run"] else result["matched"])
    return result


async def test_a_selection_is_acted_on_and_every_job_skipped_says_why(
    flavor: str, rq: RedisQ, queue: str, charge: Task[Any, Any]
) -> None:
    dead = await rq.enqueue_many([charge.call(f"c{i}", 100) for i in range(3)])
    await _all_dead(rq, queue, 3)
    await rq.pause(queue)  # what is requeued stays queued, to be looked at
    queued = await charge.enqueue("c9", 1)
    later = await charge.with_options(delay_s=3600).enqueue("c10", 1)
    gone = await charge.enqueue("c11", 1)
    await gone.delete()
    async with api_client(flavor, rq) as client:
        ids = [dead[0].id, dead[1].uid, queued.id, later.id, gone.uid, dead[0].uid]  # ids or uids, once each
        answer = await _bulk(client, queue, {"action": "requeue", "ids": ids})
        assert answer == {
            "action": "requeue",
            "dry_run": False,
            "done": 2,
            "skipped": {"not_dead": 2, "gone": 1},
            "matched": 5,
            "searched": 0,
            "total": None,
            "next": None,
        }
        assert [(await job.info()).state for job in dead] == [JobState.QUEUED, JobState.QUEUED, JobState.DEAD]
        answer = await _bulk(client, queue, {"action": "retry", "ids": [dead[2].uid, queued.uid, later.uid]})
        assert (answer["done"], answer["skipped"]) == (
            2,
            {"not_retryable": 1},
        )  # dead: requeued, later: run now
        assert (await later.info()).state is JobState.QUEUED
        answer = await _bulk(client, queue, {"action": "cancel", "ids": [queued.uid, gone.uid]})
        assert (answer["done"], answer["skipped"]) == (1, {"gone": 1})
        answer = await _bulk(client, queue, {"action": "cancel", "ids": [queued.uid]})
        assert (answer["done"], answer["skipped"]) == (0, {"not_cancellable": 1})
        answer = await _bulk(client, queue, {"action": "delete", "ids": [job.uid for job in dead]})
        assert (answer["done"], answer["skipped"]) == (3, {})
    assert (await rq.stats(queue)).queued == 1  # `later`, run now: it waits for the paused queue


async def test_a_filtered_set_larger_than_a_batch_is_done_batch_by_batch(
    flavor: str, rq: RedisQ, queue: str, charge: Task[Any, Any]
) -> None:
    # 1,200 dead jobs; the filter matches the 700 of customers "vip-*": more than one batch of 500.
    customers = [f"vip-{i}" if i % 12 < 7 else f"std-{i}" for i in range(1_200)]
    jobs = await rq.enqueue_many([charge.call(c, i) for i, c in enumerate(customers)])
    await _all_dead(rq, queue, 1_200)
    await rq.pause(queue)
    matching = {"state": "dead", "task": "billing.charge", "q": '"vip-', "error": "ValueError"}
    async with api_client(flavor, rq) as client:
        counted = await _bulk(client, queue, {"action": "retry", "filter": matching, "dry_run": True})
        assert (counted["matched"], counted["searched"], counted["total"], counted["next"]) == (
            700,
            1_200,
            1_200,
            None,
        )
        assert counted["done"] == 0 and (await rq.stats(queue)).dead == 1_200  # a dry run touches nothing
        done, batches, cursor = 0, [], None
        while True:
            answer = await _bulk(client, queue, {"action": "retry", "filter": matching, "cursor": cursor})
            assert answer["skipped"] == {} and answer["searched"] <= 5_000
            done += answer["done"]
            batches.append(answer["done"])
            cursor = answer["next"]
            if cursor is None:
                break
        assert done == 700 and batches[0] == 500 and len(batches) == 2
    stats = await rq.stats(queue)
    assert (stats.dead, stats.queued) == (500, 700)
    states = {job.id: (await job.info()).state for job in jobs}
    for job, customer in zip(jobs, customers, strict=True):
        assert states[job.id] is (JobState.QUEUED if customer.startswith("vip-") else JobState.DEAD), customer


async def test_a_filtered_delete_and_cancel_leave_the_others(
    flavor: str, rq: RedisQ, queue: str, charge: Task[Any, Any]
) -> None:
    await rq.pause(queue)
    soon = await rq.enqueue_many([charge.call(f"a{i}", i) for i in range(20)])
    others = await rq.enqueue_many([charge.call(f"b{i}", i) for i in range(10)])
    async with api_client(flavor, rq) as client:
        filtered = {"state": "queued", "q": '"a'}
        answer = await _bulk(client, queue, {"action": "cancel", "filter": filtered})
        assert (answer["done"], answer["matched"], answer["searched"], answer["next"]) == (20, 20, 30, None)
        assert {(await job.info()).state for job in soon} == {JobState.CANCELLED}
        assert {(await job.info()).state for job in others} == {JobState.QUEUED}
        answer = await _bulk(client, queue, {"action": "delete", "filter": {"state": "queued", "q": '"b1"'}})
        assert answer["done"] == 1
    assert (await rq.stats(queue)).queued == 9


async def test_a_request_that_cannot_be_meant_is_a_422(
    flavor: str, rq: RedisQ, queue: str, charge: Task[Any, Any]
) -> None:
    job = await charge.enqueue("c", 1)
    async with api_client(flavor, rq) as client:
        for body in [
            {"ids": [job.uid]},  # no action
            {"action": "explode", "ids": [job.uid]},
            {"action": "retry"},  # neither ids nor filter
            {"action": "retry", "ids": [job.uid], "filter": {"state": "dead"}},
            {"action": "retry", "ids": []},
            {"action": "retry", "ids": [f"u{i}" for i in range(501)]},
            {"action": "retry", "ids": [f"other-queue:{job.uid}"]},
            {"action": "retry", "ids": [7]},
            {"action": "retry", "ids": [job.uid], "dry_run": True},
            {"action": "requeue", "filter": {"state": "queued"}},  # requeue walks the dead
            {"action": "delete", "filter": {"state": "active"}},  # a running job is its worker's
            {"action": "retry", "filter": {}},
            {"action": "retry", "filter": {"state": "dead", "color": "red"}},
            {"action": "retry", "filter": {"state": "dead", "since": "last week"}},
            {"action": "retry", "filter": {"state": "dead", "task": ""}},
            {"action": "retry", "filter": {"state": "dead"}, "cursor": -1},
            {"action": "retry", "filter": {"state": "dead"}, "cursor": "5"},
            {"action": "retry", "filter": {"state": "dead"}, "dry_run": "yes"},
            {"action": "retry", "filter": {"state": "dead"}, "please": True},
            ["retry"],
        ]:
            refused = await client.post(f"/{queue}/bulk", json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert refused.json()["error"] == "invalid_parameter", body
        assert (await client.post(f"/{queue}/bulk", content=b"{")).status_code in (415, 422)
        bad_json = await client.post(
            f"/{queue}/bulk", content=b"{", headers={"content-type": "application/json"}
        )
        assert bad_json.status_code == 422
        form = await client.post(f"/{queue}/bulk", data={"action": "delete"})
        assert form.status_code == 415
        missing = await client.post("/no-such-queue/bulk", json={"action": "delete", "ids": ["x"]})
        assert (missing.status_code, missing.json()["error"]) == (404, "queue_not_found")
    assert (await job.info()).state is JobState.QUEUED


async def test_only_admins_act_in_bulk(flavor: str, rq: RedisQ, queue: str, charge: Task[Any, Any]) -> None:
    job: Job = await charge.enqueue("c", 1)
    body = {"action": "delete", "ids": [job.uid]}
    async with api_client(flavor, rq) as client:
        refused = await client.post(f"/{queue}/bulk", json=body, headers=READER)
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
        cross_site = await client.post(
            f"/{queue}/bulk", json=body, headers={"origin": "https://evil.example"}
        )
        assert cross_site.status_code == 403
        nobody = await client.post(f"/{queue}/bulk", json=body, headers={"x-role": "nobody"})
        assert nobody.status_code == 401
        assert (await job.info()).state is JobState.QUEUED
        assert (await client.post(f"/{queue}/bulk", json=body)).json()["done"] == 1
