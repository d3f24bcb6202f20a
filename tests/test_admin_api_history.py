"""The admin API's metrics over time (issue 17), one contract for Starlette, FastAPI and Flask: a queue's
points and per-task totals with run-time and wait percentiles, one task's points, every queue summed;
a bad range, an empty task or an unknown parameter is a 422, an unknown queue a 404."""

from __future__ import annotations

import asyncio

import pytest

from redisq import RedisQ
from redisq.testing import drain

from .adminkit import FLAVORS, READER, api_client

pytestmark = pytest.mark.parametrize("flavor", FLAVORS)


async def test_a_queue_history_has_points_and_each_tasks_totals(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="h.slow")
    async def slow() -> None:
        await asyncio.sleep(0.06)

    @rq.task(name="h.bad", retries=0)
    async def bad() -> None:
        raise ValueError("bad")

    for _ in range(3):
        await slow.enqueue()
    await bad.enqueue()
    await drain(rq, [queue])
    async with api_client(flavor, rq) as api:
        body = (await api.get(f"/{queue}/history", headers=READER)).json()
        assert (body["queue"], body["task"], body["range"], body["step_s"]) == (queue, None, "1h", 60)
        assert len(body["points"]) == 60 and body["points"][-1]["at"].endswith("Z")
        assert sum(p["succeeded"] for p in body["points"]) == 3
        assert sum(p["failed"] for p in body["points"]) == 1
        tasks = {t["task"]: t for t in body["tasks"]}
        assert (tasks["h.slow"]["succeeded"], tasks["h.slow"]["failed"]) == (3, 0)
        assert (tasks["h.bad"]["succeeded"], tasks["h.bad"]["failed"]) == (0, 1)
        run = tasks["h.slow"]["run_ms"]
        assert 50 <= run["p50"] <= run["p95"] <= run["p99"] <= 250, run  # a 60 ms sleep
        assert tasks["h.slow"]["wait_ms"]["p50"] is not None

        one = (await api.get(f"/{queue}/history", params={"task": "h.bad", "range": "30d"})).json()
        assert (one["task"], one["range"], one["step_s"]) == ("h.bad", "30d", 6 * 3600)
        assert (
            sum(p["failed"] for p in one["points"]) == 1 and sum(p["succeeded"] for p in one["points"]) == 0
        )
        assert [t["task"] for t in one["tasks"]] == ["h.bad"]
        day = (await api.get(f"/{queue}/history", params={"range": "24h"})).json()
        assert {t["task"]: t["succeeded"] for t in day["tasks"]} == {"h.slow": 3, "h.bad": 0}


async def test_the_system_history_sums_every_queue(flavor: str, rq: RedisQ, queue: str) -> None:
    other = f"{queue}-b"

    @rq.task(name="h.here")
    async def here() -> None:
        return None

    @rq.task(name="h.there", queue=other)
    async def there() -> None:
        return None

    await here.enqueue()
    await there.enqueue()
    await there.enqueue()
    await drain(rq, [queue, other])
    async with api_client(flavor, rq) as api:
        body = (await api.get("/_history", params={"range": "72h"}, headers=READER)).json()
        assert (body["range"], body["step_s"]) == ("72h", 3600)
        assert sum(p["succeeded"] for p in body["points"]) == 3
        totals = {q["queue"]: q["succeeded"] for q in body["queues"]}
        assert (totals[queue], totals[other]) == (1, 2)


async def test_bad_requests_are_refused_with_a_json_body(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="h.known")
    async def known() -> None:
        return None

    async with api_client(flavor, rq) as api:
        for path, params in (
            (f"/{queue}/history", {"range": "2h"}),
            (f"/{queue}/history", {"task": ""}),
            (f"/{queue}/history", {"since": "1"}),
            ("/_history", {"range": "1d"}),
            ("/_history", {"task": "h.known"}),
        ):
            answer = await api.get(path, params=params, headers=READER)
            assert answer.status_code == 422, (path, params, answer.text)
            assert answer.json()["error"], answer.text
        missing = await api.get("/no-such-queue/history", headers=READER)
        assert missing.status_code == 404 and missing.json()["error"] == "queue_not_found"
