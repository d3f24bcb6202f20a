"""The admin API's workflows (issue 16), one contract for Starlette, FastAPI and Flask: a workflow's steps
with their states and edges, for readers too; an unknown or impossible id is a 404 with a JSON body; a
failed step retried through the job route lets the workflow go on."""

from __future__ import annotations

import asyncio

import pytest

from redisq import RedisQ, chain, chord, group

from .adminkit import FLAVORS, READER, api_client
from .conftest import FAST, running_worker

pytestmark = pytest.mark.parametrize("flavor", FLAVORS)


async def test_a_workflow_shows_its_steps_states_and_edges(flavor: str, rq: RedisQ, queue: str) -> None:
    broken = {"on": True}

    @rq.task(name="resize", retries=0)
    async def resize(width: int) -> int:
        if width > 100 and broken["on"]:
            raise ValueError("too wide")
        return width

    @rq.task(name="publish")
    async def publish(widths: list[int]) -> int:
        return len(widths)

    @rq.task(name="notify")
    async def notify(count: int) -> str:
        return f"{count} sizes"

    flow = chain(chord(group(resize.call(w) for w in (64, 128)), then=publish.call()), notify.call())
    wf = await rq.enqueue_workflow(flow, id="upload-17")
    async with api_client(flavor, rq) as client:
        body = (await client.get("/_workflows/upload-17", headers=READER)).json()
        assert (body["id"], body["state"]) == ("upload-17", "running") and body["created_at"].endswith("Z")
        steps = body["steps"]
        assert [(s["job_id"], s["task"], s["state"]) for s in steps] == [
            (wf.jobs[0].id, "resize", "queued"),
            (wf.jobs[1].id, "resize", "queued"),
            (wf.jobs[2].id, "publish", "waiting"),
            (wf.jobs[3].id, "notify", "waiting"),
        ]
        assert steps[2]["depends_on"] == [
            {"job_id": wf.jobs[0].id, "on_failure": "fail"},
            {"job_id": wf.jobs[1].id, "on_failure": "fail"},
        ]
        assert steps[0]["queue"] == queue

        async with running_worker(rq, FAST):
            for _ in range(200):
                body = (await client.get("/_workflows/upload-17")).json()
                if body["state"] != "running":
                    break
                await asyncio.sleep(0.05)
            assert body["state"] == "failed"
            assert [(s["state"], s["error_type"]) for s in body["steps"]] == [
                ("succeeded", None),
                ("dead", "ValueError"),
                ("dead", "DependencyFailed"),
                ("dead", "DependencyFailed"),
            ]
            broken["on"] = False
            failed = wf.jobs[1]
            retried = await client.post(f"/{failed.queue}/jobs/{failed.uid}/retry")
            assert retried.status_code == 200, retried.text
            for _ in range(200):  # the steps that failed with it follow, each through its outbox
                body = (await client.get("/_workflows/upload-17")).json()
                if body["state"] == "succeeded":
                    break
                await asyncio.sleep(0.05)
            assert [s["state"] for s in body["steps"]] == ["succeeded"] * 4
            assert await wf.result(timeout=1) == "2 sizes"

        for missing in ("no-such-flow", "bad{id}"):
            answer = await client.get(f"/_workflows/{missing}")
            assert answer.status_code == 404 and answer.json()["error"] == "workflow_not_found"
