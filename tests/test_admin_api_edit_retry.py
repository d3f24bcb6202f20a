"""The admin API's attempt history and edit-and-retry (issue 17), the same contract on Starlette, FastAPI
and Flask: `attempt_history` in a job's JSON; `POST /{queue}/jobs/{uid}/retry` with `{"args", "kwargs"}`
puts a dead job back with new arguments, checked as an enqueue's (422, 413, nothing changed), for admins
only (403), dead jobs only (409); without a body it is the plain retry."""

from __future__ import annotations

from typing import Any

import pytest

from redisq import Backoff, RedisQ, current_job

from .adminkit import FLAVORS, READER, api_client, job_path, job_state, wait_until
from .conftest import running_worker

pytestmark = pytest.mark.parametrize("flavor", FLAVORS)


def register(rq: RedisQ) -> None:
    @rq.task(name="edit.add", retries=0)
    async def add(a: int, b: int = 0, note: str = "") -> int:
        if a < 0:
            raise ValueError(f"a must not be negative, got {a}\nsee the traceback")
        return a + b

    @rq.task(name="edit.third_time", retries=2, backoff=Backoff.fixed(0.05))
    async def third_time() -> str:
        if current_job.get().attempt < 3:
            raise RuntimeError(f"attempt {current_job.get().attempt} failed")
        return "done"


async def test_attempts_and_edit_and_retry(flavor: str, rq: RedisQ) -> None:
    register(rq)
    flaky, dead = await rq.get_task("edit.third_time").enqueue(), await rq.get_task("edit.add").enqueue(-1)
    async with running_worker(rq), api_client(flavor, rq) as client:
        assert await flaky.result(timeout=10) == "done"
        history = (await client.get(job_path(flaky.id))).json()["attempt_history"]
        assert [(a["attempt"], a["outcome"], a["error_type"], a["error_message"]) for a in history] == [
            (1, "failed", "RuntimeError", "attempt 1 failed"),
            (2, "failed", "RuntimeError", "attempt 2 failed"),
            (3, "succeeded", "", ""),
        ]
        assert all(a["started_at"] and a["finished_at"] and a["duration_s"] >= 0 for a in history)

        async def died() -> bool:
            return await job_state(client, dead.id) == "dead"

        await wait_until(died)
        edited = await client.post(f"{job_path(dead.id)}/retry", json={"args": [5], "kwargs": {"b": 2}})
        assert edited.json() == {"id": dead.id, "action": "retried"}, edited.text
        assert await dead.result(timeout=10) == 7
        job = (await client.get(job_path(dead.id))).json()
        assert (job["args"], job["kwargs"], job["state"]) == ([5], {"b": 2}, "succeeded")
        assert [(a["outcome"], a["error_type"], a["error_message"]) for a in job["attempt_history"]] == [
            ("dead", "ValueError", "a must not be negative, got -1"),
            ("succeeded", "", ""),
        ]
        # Only a dead job's arguments can be edited; the plain retry (no body) of an ended job too is a 409.
        for body in ({"args": [1]}, None):
            again = await client.post(f"{job_path(dead.id)}/retry", json=body)
            assert (again.status_code, again.json()["error"], again.json()["state"]) == (
                409,
                "conflict",
                "succeeded",
            )


async def test_edits_that_do_not_fit_change_nothing(
    flavor: str, redis_url: str, prefix: str, queue: str
) -> None:
    async with RedisQ(redis_url, prefix=prefix, default_queue=queue, max_payload_bytes=300) as rq:
        register(rq)
        dead = await rq.get_task("edit.add").enqueue(-1)
        async with running_worker(rq):
            with pytest.raises(Exception, match="negative"):
                await dead.result(timeout=10)
        async with api_client(flavor, rq) as client:
            before = (await client.get(job_path(dead.id))).json()
            retry = f"{job_path(dead.id)}/retry"
            refusals: list[tuple[Any, int, str]] = [
                ({"args": ["x"]}, 422, "invalid_arguments"),  # not an int
                ({"args": [1, 2, 3]}, 422, "invalid_arguments"),  # too many
                ({"kwargs": {"c": 1}}, 422, "invalid_arguments"),  # no such parameter; and `a` missing
                ({"args": 1}, 422, "invalid_parameter"),
                ({"kwargs": [1]}, 422, "invalid_parameter"),
                ({"args": [1], "task": "edit.other"}, 422, "invalid_parameter"),  # the task is the job's
                ([1], 422, "invalid_parameter"),
                ({"args": [1], "kwargs": {"b": "x" * 1000}}, 422, "invalid_arguments"),  # not an int either
            ]
            for body, status, error in refusals:
                answer = await client.post(retry, json=body)
                assert (answer.status_code, answer.json()["error"]) == (status, error), (body, answer.text)
                assert isinstance(answer.json()["detail"], str)
            broken = await client.post(
                retry, content=b'{"args": [', headers={"content-type": "application/json"}
            )
            assert (broken.status_code, broken.json()["error"]) == (422, "invalid_parameter")
            not_json = await client.post(retry, content=b"args=1", headers={"content-type": "text/plain"})
            assert not_json.status_code == 415
            too_big = await client.post(retry, json={"args": [1], "kwargs": {"note": "x" * 1000}})
            assert (too_big.status_code, too_big.json()["error"]) == (413, "payload_too_large"), too_big.text

            assert (await client.get(job_path(dead.id))).json() == before

            async with api_client(flavor, rq, headers=READER) as reader:
                refused = await reader.post(retry, json={"args": [1]})
                assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
            unknown = await client.post(f"/{queue}/jobs/nosuchjob/retry", json={"args": [1]})
            assert (unknown.status_code, unknown.json()["error"]) == (404, "job_not_found")
            assert (await client.get(job_path(dead.id))).json() == before
