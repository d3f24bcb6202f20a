"""The admin API's periodic jobs (issue 12), one contract for Starlette, FastAPI and Flask: list, read,
upsert (PUT, its body checked like an enqueue's), pause, resume, run now, delete; unknown ids are 404."""

from __future__ import annotations

import pytest

from redisq import RedisQ

from .adminkit import FLAVORS, READER, api_client

pytestmark = pytest.mark.parametrize("flavor", FLAVORS)


def register(rq: RedisQ) -> None:
    @rq.task(name="report")
    def report(customer: int, verbose: bool = False) -> None: ...

    @rq.task(name="nightly", schedule="0 2 * * *", tz="Europe/Paris")
    def nightly() -> None: ...


async def test_list_put_and_read(flavor: str, rq: RedisQ, queue: str) -> None:
    register(rq)
    await rq.schedules.sync_declared()
    async with api_client(flavor, rq) as client:
        listed = (await client.get("/_schedules")).json()["schedules"]
        assert [(s["id"], s["cron"], s["tz"], s["origin"], s["paused"]) for s in listed] == [
            ("nightly", "0 2 * * *", "Europe/Paris", "code", False)
        ]
        assert listed[0]["next_run"].endswith("Z") and listed[0]["last_run"] is None

        body = {
            "task": "report",
            "every_s": 3600,
            "args": [7],
            "kwargs": {"verbose": True},
            "catch_up": "skip",
        }
        created = await client.put("/_schedules/report-7", json=body)
        assert created.status_code == 201, created.text
        schedule = created.json()["schedule"]
        assert created.json()["change"] == "created"
        assert (schedule["every_s"], schedule["args"], schedule["origin"]) == (3600, [7], "api")
        again = await client.put("/_schedules/report-7", json=body)
        assert (again.status_code, again.json()["change"]) == (200, "unchanged")
        assert again.json()["schedule"]["next_run"] == schedule["next_run"]  # an upsert keeps its next run
        changed = await client.put("/_schedules/report-7", json={**body, "every_s": 60})
        assert (changed.status_code, changed.json()["change"]) == (200, "updated")

        one = await client.get("/_schedules/report-7")
        assert one.status_code == 200 and one.json()["every_s"] == 60
        assert len((await client.get("/_schedules", headers=READER)).json()["schedules"]) == 2


async def test_pause_resume_run_delete(flavor: str, rq: RedisQ, queue: str) -> None:
    register(rq)
    await rq.schedules.sync_declared()
    async with api_client(flavor, rq) as client:
        paused = await client.post("/_schedules/nightly/pause")
        assert paused.status_code == 200 and paused.json()["change"] == "paused"
        assert paused.json()["schedule"]["paused"] and paused.json()["schedule"]["next_run"] is None
        resumed = (await client.post("/_schedules/nightly/resume")).json()
        assert resumed["change"] == "resumed" and resumed["schedule"]["next_run"] is not None

        run = await client.post("/_schedules/nightly/run")
        assert run.status_code == 200, run.text
        job_id = run.json()["job"]
        assert job_id.startswith(f"{queue}:")
        after = (await client.get("/_schedules/nightly")).json()
        assert after["last_job"] == job_id and after["next_run"] == resumed["schedule"]["next_run"]
        queue_name, _, uid = job_id.rpartition(":")
        job = (await client.get(f"/{queue_name}/jobs/{uid}")).json()
        assert (job["task"], job["state"]) == ("nightly", "queued")

        deleted = await client.delete("/_schedules/nightly")
        assert deleted.status_code == 200 and deleted.json()["change"] == "deleted"
        assert (await client.get("/_schedules")).json() == {"schedules": []}


async def test_unknown_ids_are_404(flavor: str, rq: RedisQ, queue: str) -> None:
    register(rq)
    async with api_client(flavor, rq) as client:
        for method, path in (
            ("GET", "/_schedules/nope"),
            ("DELETE", "/_schedules/nope"),
            ("POST", "/_schedules/nope/pause"),
            ("POST", "/_schedules/nope/resume"),
            ("POST", "/_schedules/nope/run"),
            ("GET", "/_schedules/%7Bbad%7D"),  # an id that could never be stored
        ):
            answer = await client.request(method, path)
            assert answer.status_code == 404, (method, path, answer.text)
            assert answer.json()["error"] == "schedule_not_found"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"task": "missing", "every_s": 60}, 422, "task_not_found"),
        ({"task": "report", "every_s": 60}, 422, "invalid_arguments"),  # customer is required
        ({"task": "report", "every_s": 60, "args": ["x"]}, 422, "invalid_arguments"),
        ({"task": "report", "cron": "99 * * * *", "args": [1]}, 422, "invalid_parameter"),
        ({"task": "report", "cron": "0 2 * * *", "tz": "Mars/Base", "args": [1]}, 422, "invalid_parameter"),
        ({"task": "report", "args": [1]}, 422, "invalid_parameter"),  # neither cron nor every_s
        ({"task": "report", "cron": "0 2 * * *", "every_s": 5, "args": [1]}, 422, "invalid_parameter"),
        ({"task": "report", "every_s": 0.5, "args": [1]}, 422, "invalid_parameter"),
        ({"task": "report", "every_s": 60, "args": [1], "color": "red"}, 422, "invalid_parameter"),
        ({"task": "report", "every_s": 60, "args": [1], "start": "tomorrow"}, 422, "invalid_parameter"),
        ({"task": "report", "every_s": 60, "args": [1], "queue": "a b"}, 422, "invalid_parameter"),
        (["report"], 422, "invalid_parameter"),
    ],
)
async def test_bad_bodies_are_refused(
    flavor: str, rq: RedisQ, queue: str, body: object, status: int, code: str
) -> None:
    register(rq)
    async with api_client(flavor, rq) as client:
        answer = await client.put("/_schedules/r", json=body)
        assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text
        assert (await client.get("/_schedules")).json() == {"schedules": []}  # nothing written


async def test_readers_cannot_change_schedules(flavor: str, rq: RedisQ, queue: str) -> None:
    register(rq)
    await rq.schedules.sync_declared()
    async with api_client(flavor, rq, headers=READER) as client:
        assert (await client.get("/_schedules")).status_code == 200
        for answer in (
            await client.post("/_schedules/nightly/pause"),
            await client.post("/_schedules/nightly/run"),
            await client.delete("/_schedules/nightly"),
            await client.put("/_schedules/x", json={"task": "nightly", "every_s": 60}),
        ):
            assert answer.status_code == 403
    assert not (await rq.schedules.get("nightly")).paused
