"""The admin API's actions end to end, on a real Redis and a real worker, through both adapters.

Retry, cancel, promote, delete, requeue every dead job, purge, pause and resume, and enqueue by name.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from redisq import Backoff, RedisQ

from .adminkit import FLAVORS, api_client, job_path, job_state, wait_until
from .conftest import running_worker

pytestmark = pytest.mark.parametrize("flavor", FLAVORS)


async def test_retry_a_dead_job_and_one_waiting_for_its_retry(flavor: str, rq: RedisQ) -> None:
    fail = {"dead", "waiting"}

    @rq.task(name="admin.once", retries=0)
    async def once(kind: str) -> str:
        if kind in fail:
            raise RuntimeError(kind)
        return kind

    @rq.task(name="admin.patient", retries=1, backoff=Backoff.fixed(3600))
    async def patient(kind: str) -> str:
        if kind in fail:
            raise RuntimeError(kind)
        return kind

    dead, waiting = await once.enqueue("dead"), await patient.enqueue("waiting")
    async with running_worker(rq), api_client(flavor, rq) as client:

        async def failed_once() -> bool:
            return (await job_state(client, dead.id), await job_state(client, waiting.id)) == (
                "dead",
                "scheduled",
            )

        await wait_until(failed_once)
        fail.clear()
        for job in (dead, waiting):
            answer = await client.post(f"{job_path(job.id)}/retry")
            assert answer.json() == {"id": job.id, "action": "retried"}
        assert (await dead.result(timeout=5), await waiting.result(timeout=5)) == ("dead", "waiting")
        again = await client.post(f"{job_path(dead.id)}/retry")
        assert again.status_code == 409
        assert again.json()["state"] == "succeeded" and again.json()["error"] == "conflict"


async def test_cancel_promote_and_delete(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="admin.later")
    async def later() -> None: ...

    delayed, queued = await later.with_options(delay_s=3600).enqueue(), await later.enqueue()
    async with api_client(flavor, rq) as client:
        not_scheduled = await client.post(f"{job_path(queued.id)}/promote")
        assert not_scheduled.status_code == 409 and not_scheduled.json()["state"] == "queued"
        assert (await client.post(f"{job_path(delayed.id)}/promote")).json()["action"] == "promoted"
        assert await job_state(client, delayed.id) == "queued"
        assert (await client.post(f"{job_path(delayed.id)}/cancel")).json()["action"] == "cancelled"
        assert await job_state(client, delayed.id) == "cancelled"
        assert (await client.post(f"{job_path(delayed.id)}/cancel")).status_code == 409
        assert (await client.delete(job_path(queued.id))).json() == {"id": queued.id, "action": "deleted"}
        gone = await client.get(job_path(queued.id))
        assert gone.status_code == 404 and gone.json()["error"] == "job_not_found"
        for method, suffix in (("POST", "/retry"), ("POST", "/cancel"), ("POST", "/promote"), ("DELETE", "")):
            missing = await client.request(method, job_path(queued.id) + suffix)
            assert missing.status_code == 404, (method, suffix)
    assert (await rq.stats(queue)).queued == 0


async def test_delete_refuses_a_running_job(flavor: str, rq: RedisQ) -> None:
    release = asyncio.Event()

    @rq.task(name="admin.slow")
    async def slow() -> None:
        await release.wait()

    job = await slow.enqueue()
    async with running_worker(rq), api_client(flavor, rq) as client:

        async def running() -> bool:
            return await job_state(client, job.id) == "active"

        await wait_until(running)
        for answer in (
            await client.delete(job_path(job.id)),
            await client.post(f"{job_path(job.id)}/cancel"),
        ):
            assert answer.status_code == 409 and answer.json()["state"] == "active"
        release.set()
        await job.result(timeout=5)
        assert (await client.delete(job_path(job.id))).status_code == 200


async def test_requeue_every_dead_job_and_purge_a_state(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="admin.broken", retries=0)
    async def broken(n: int) -> None:
        raise RuntimeError(n)

    await rq.enqueue_many([broken.call(n) for n in range(6)])
    async with running_worker(rq):

        async def all_dead() -> bool:
            return (await rq.stats(queue)).dead == 6

        await wait_until(all_dead)
    async with api_client(flavor, rq) as client:
        dead = (await client.get(f"/{queue}/jobs", params={"state": "dead", "limit": 4})).json()
        assert dead["total"] == 6 and len(dead["items"]) == 4
        assert (await client.post(f"/{queue}/dead/requeue")).json() == {"requeued": 6}
        queued = (await client.get(f"/{queue}/jobs", params={"state": "queued"})).json()
        assert queued["total"] == 6 and {item["attempts"] for item in queued["items"]} == {0}
        assert (await client.post(f"/{queue}/dead/requeue")).json() == {"requeued": 0}
        assert (await client.delete(f"/{queue}/jobs", params={"state": "queued"})).json() == {"deleted": 6}
        stats = (await client.get(f"/{queue}")).json()
    assert (stats["queued"], stats["dead"], stats["counters"]["requeued"]) == (0, 0, 6)


async def test_pause_and_resume_are_seen_by_a_worker(flavor: str, rq: RedisQ, queue: str) -> None:
    ran: list[int] = []

    @rq.task(name="admin.record")
    async def record(n: int) -> None:
        ran.append(n)

    async with api_client(flavor, rq) as client:
        assert (await client.post(f"/{queue}/pause")).json() == {"queue": queue, "paused": True}
        assert (await client.get(f"/{queue}")).json()["paused"] is True
        async with running_worker(rq):
            await rq.enqueue_many([record.call(n) for n in range(3)])
            await asyncio.sleep(0.6)  # past the worker's idle wait (0.5 s in tests)
            assert ran == []
            assert (await client.post(f"/{queue}/resume")).json() == {"queue": queue, "paused": False}

            async def all_ran() -> bool:
                return len(ran) == 3

            await wait_until(all_ran, timeout=5)
        listed = {q["queue"]: q for q in (await client.get("/")).json()["queues"]}
    assert listed[queue]["paused"] is False and listed[queue]["counters"]["succeeded"] == 3


async def test_enqueue_a_task_by_name(flavor: str, rq: RedisQ, queue: str) -> None:
    other = f"{queue}-other"

    @rq.task(name="admin.build")
    async def build(report_id: int, pages: list[int] | None = None) -> int:
        return report_id

    @rq.task(name="admin.elsewhere", queue=other)
    async def elsewhere() -> None: ...

    @rq.task(name="admin.once", unique=True)
    async def once(n: int) -> None: ...

    async with api_client(flavor, rq) as client:
        created = await client.post(
            f"/{queue}/jobs", json={"task": "admin.build", "args": [7], "kwargs": {"pages": [1]}}
        )
        assert created.status_code == 201, created.text
        job = (await client.get(job_path(created.json()["id"]))).json()
        assert (job["queue"], job["task"], job["args"], job["kwargs"], job["state"]) == (
            queue,
            "admin.build",
            [7],
            {"pages": [1]},
            "queued",
        )
        body = {"task": "admin.build", "args": [8], "delay_s": 3600, "priority": 5}
        moved = (await client.post(f"/{other}/jobs", json=body)).json()
        job = (await client.get(job_path(moved["id"]))).json()
        assert (job["queue"], job["state"], job["priority"]) == (other, "scheduled", 5) and job["due_at"]
        first = await client.post(f"/{queue}/jobs", json={"task": "admin.once", "args": [1]})
        second = await client.post(f"/{queue}/jobs", json={"task": "admin.once", "args": [1]})
        assert (first.status_code, second.status_code) == (201, 200)
        assert second.json() == {**first.json(), "created": False}

        for bad, error in [
            ({"task": "admin.build", "kwargs": {"nope": 1}}, "invalid_arguments"),
            ({"task": "admin.build", "args": [1, 2, 3]}, "invalid_arguments"),
            ({"task": "admin.missing"}, "task_not_found"),
            ({"task": "admin.build", "args": [1], "delay": 5}, "invalid_parameter"),
            ({"task": "admin.build", "args": [1], "priority": 5000}, "invalid_parameter"),
            ({"task": "admin.build", "args": [1], "priority": True}, "invalid_parameter"),
            ({"task": "admin.build", "args": [1], "delay_s": -1}, "invalid_parameter"),
            ({"task": "admin.build", "args": 1}, "invalid_parameter"),
            ({"args": [1]}, "invalid_parameter"),
            (["admin.build"], "invalid_parameter"),
        ]:
            refused = await client.post(f"/{queue}/jobs", json=bad)
            assert (refused.status_code, refused.json().get("error")) == (422, error), (bad, refused.text)
            assert isinstance(refused.json()["detail"], str)
        broken = await client.post(
            f"/{queue}/jobs", content=b'{"task": ', headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422
        assert (
            await client.post("/no-such-queue/jobs", json={"task": "admin.build", "args": [1]})
        ).status_code == 404
    assert (await rq.stats(queue)).queued == 2 and (await rq.stats(other)).scheduled == 1


async def test_payloads_over_the_limit_are_refused(
    flavor: str, redis_url: str, prefix: str, queue: str
) -> None:
    async def chunked_body() -> AsyncIterator[bytes]:  # no Content-Length: the size shows only when read
        yield b'{"task": "admin.echo", "args": ["'
        for _ in range(10):
            yield b"x" * 10_000
        yield b'"]}'

    async with RedisQ(redis_url, prefix=prefix, default_queue=queue, max_payload_bytes=1000) as small:

        @small.task(name="admin.echo")
        async def echo(text: str) -> str:
            return text

        async with api_client(flavor, small) as client:
            accepted = await client.post(f"/{queue}/jobs", json={"task": "admin.echo", "args": ["x"]})
            assert accepted.status_code == 201
            refused = [
                await client.post(f"/{queue}/jobs", json={"task": "admin.echo", "args": ["x" * 2_000]}),
                await client.post(f"/{queue}/jobs", json={"task": "admin.echo", "args": ["x" * 100_000]}),
                await client.post(
                    f"/{queue}/jobs", content=chunked_body(), headers={"content-type": "application/json"}
                ),
            ]  # over the payload limit; over what the API reads at all, said up front or found reading
            assert [(r.status_code, r.json()["error"]) for r in refused] == [(413, "payload_too_large")] * 3
            assert [r.json()["detail"].split(" ")[0] for r in refused] == ["job", "request", "request"]
        assert (await small.stats(queue)).queued == 1


async def test_a_running_jobs_progress_is_in_its_json(flavor: str, rq: RedisQ) -> None:
    reported, finish = asyncio.Event(), asyncio.Event()

    @rq.task(name="admin.resize")
    async def resize() -> None:
        await rq.set_progress(0.25, "1 of 4")
        reported.set()
        await finish.wait()

    job = await resize.enqueue()
    async with api_client(flavor, rq) as client, running_worker(rq):
        await asyncio.wait_for(reported.wait(), 5)
        body = (await client.get(job_path(job.id))).json()
        finish.set()
    assert body["state"] == "active" and body["progress"] == {"value": 0.25, "note": "1 of 4"}


async def test_abort_a_running_job_cancel_a_waiting_one_refuse_an_ended_one(
    flavor: str, rq: RedisQ, queue: str
) -> None:
    started = asyncio.Event()

    @rq.task(name="admin.endless")
    async def endless() -> None:
        started.set()
        await asyncio.sleep(60)

    delayed = await endless.with_options(delay_s=3600).enqueue()
    async with api_client(flavor, rq) as client:
        answer = await client.post(f"{job_path(delayed.id)}/abort")
        assert answer.json() == {"id": delayed.id, "action": "aborted"}
        assert await job_state(client, delayed.id) == "cancelled"  # it had not started
        running = await endless.enqueue()
        async with running_worker(rq):
            await asyncio.wait_for(started.wait(), 5)
            assert (await client.post(f"{job_path(running.id)}/abort")).status_code == 200

            async def aborted() -> bool:
                return await job_state(client, running.id) == "aborted"

            await wait_until(aborted, timeout=2)
        ended = await client.post(f"{job_path(running.id)}/abort")
        assert ended.status_code == 409
        assert ended.json()["error"] == "conflict" and ended.json()["state"] == "aborted"
        missing = await client.post(f"/{queue}/jobs/{'0' * 32}/abort")
        assert missing.status_code == 404 and missing.json()["error"] == "job_not_found"
        read_only = await client.post(f"{job_path(running.id)}/abort", headers={"x-role": "read"})
        assert read_only.status_code == 403
        assert (await client.get(f"/{queue}")).json()["counters"]["aborted"] == 1
