"""`GET M/{queue}/backlog`, the autoscalers' route, in the admin contract: Starlette, FastAPI and Flask
answer the same, from the same numbers as `RedisQ.scaling()`."""

from __future__ import annotations

import asyncio
import dataclasses
import math

import pytest

from redisq import RedisQ

from .adminkit import FLAVORS, READER, api_client, wait_until
from .conftest import FAST, running_worker

pytestmark = pytest.mark.parametrize("flavor", FLAVORS)

FIELDS = {
    "queue",
    "backlog",
    "scheduled",
    "active",
    "limited",
    "paused",
    "oldest_age_s",
    "throughput_per_minute",
    "workers",
    "concurrency",
    "mean_run_s",
    "drain_s",
    "busy_slots",
    "drain_slots",
    "desired_workers",
}


async def test_backlog_and_desired_workers(flavor: str, rq: RedisQ, queue: str) -> None:
    release = asyncio.Event()

    @rq.task(name="backlog.hold")
    async def hold() -> None:
        await release.wait()

    async with api_client(flavor, rq, headers=READER) as client:  # READ access is enough
        idle = (await client.get(f"/{queue}/backlog")).json()  # a registered task's queue, never used yet
        assert set(idle) == FIELDS
        assert (idle["backlog"], idle["workers"], idle["desired_workers"]) == (0, 0, 0)
        assert idle["concurrency"] == 10.0 and idle["drain_s"] == 60.0 and idle["oldest_age_s"] is None

        for _ in range(130):
            await hold.enqueue()
        await hold.with_options(delay_s=3600).enqueue()
        cold = (await client.get(f"/{queue}/backlog")).json()
        assert (cold["backlog"], cold["scheduled"], cold["active"], cold["mean_run_s"]) == (130, 1, 0, None)
        assert cold["oldest_age_s"] >= 0
        # No worker alive: 130 waiting, an assumed 1 s each, within 60 s: 2.17 slots of 10: 1 worker.
        assert cold["drain_slots"] == pytest.approx(130 / 60) and cold["desired_workers"] == 1
        fast = (await client.get(f"/{queue}/backlog", params={"drain_s": "2"})).json()
        assert fast["drain_s"] == 2.0 and fast["desired_workers"] == math.ceil(130 / 2 / 10) == 7

        async with running_worker(rq, dataclasses.replace(FAST, concurrency=4), queues=[queue]):

            async def four_running() -> bool:
                body = (await client.get(f"/{queue}/backlog")).json()
                return bool(body["active"] == 4 and body["workers"] == 1)

            await wait_until(four_running)
            warm = (await client.get(f"/{queue}/backlog", params={"drain_s": "6.5"})).json()
            assert (warm["backlog"], warm["concurrency"], warm["busy_slots"]) == (126, 4.0, 4.0)
            # The 4 running hold their slots; 126 waiting at an assumed 1 s, within 6.5 s.
            assert warm["desired_workers"] == math.ceil((4 + 126 / 6.5) / 4) == 6
            health = (await client.get("/_health")).json()
            assert [q["desired_workers"] for q in health["queues"] if q["queue"] == queue] == [
                math.ceil((4 + 126 / 60) / 4)
            ]
            release.set()

            async def drained() -> bool:
                return bool((await client.get(f"/{queue}/backlog")).json()["backlog"] == 0)

            await wait_until(drained)
        # One job scheduled for an hour from now: a worker must stay to promote it when it is due.
        done = (await client.get(f"/{queue}/backlog")).json()
        assert (done["backlog"], done["scheduled"], done["desired_workers"]) == (0, 1, 1)
        assert done["throughput_per_minute"] > 0


async def test_backlog_checks_its_input(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="backlog.noop")
    async def noop() -> None: ...

    async with api_client(flavor, rq) as client:
        missing = await client.get("/nope/backlog")
        assert (missing.status_code, missing.json()["error"]) == (404, "queue_not_found")
        for bad in ("0", "0.5", "abc", "nan", "inf", "1e9", "-3"):
            answer = await client.get(f"/{queue}/backlog", params={"drain_s": bad})
            assert answer.status_code == 422, bad
            assert (answer.json()["error"], answer.json()["field"]) == ("invalid_parameter", "drain_s"), bad
        other = await client.get(f"/{queue}/backlog", params={"queue": "x"})
        assert (other.status_code, other.json()["field"]) == (422, "queue")
        assert (await client.get(f"/{queue}/backlog", params={"drain_s": "86400"})).status_code == 200
        wrong = await client.post(f"/{queue}/backlog")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD, OPTIONS"
    async with api_client(flavor, rq, headers={}) as anonymous:
        assert (await anonymous.get(f"/{queue}/backlog")).status_code == 401


async def test_a_tier_adds_its_queues_slots_up(flavor: str, rq: RedisQ, queue: str) -> None:
    other = f"{queue}-b"

    @rq.task(name="backlog.a", queue=queue)
    async def a() -> None: ...

    @rq.task(name="backlog.b", queue=other)
    async def b() -> None: ...

    await rq.enqueue_many([a.call() for _ in range(300)] + [b.call() for _ in range(300)])
    async with api_client(flavor, rq, headers=READER) as client:
        tier = (await client.get("/_backlog", params={"queues": f"{queue},{other}", "drain_s": "20"})).json()
        assert set(tier) == {"queues", "workers", "concurrency", "drain_s", "desired_workers"}
        assert [q["queue"] for q in tier["queues"]] == [queue, other]
        assert all(set(q) == FIELDS for q in tier["queues"])
        # Each: 300 waiting, an assumed 1 s each, within 20 s: 15 slots of 10, 2 workers. Together 30 slots:
        # 3 workers, one more than the largest per-queue figure (what KEDA's max over triggers would run).
        assert [q["desired_workers"] for q in tier["queues"]] == [2, 2]
        assert (tier["workers"], tier["concurrency"], tier["desired_workers"]) == (0, 10.0, 3)
        everything = (await client.get("/_backlog")).json()  # every queue when none is named
        assert sorted(q["queue"] for q in everything["queues"]) == sorted([queue, other])
        assert everything["desired_workers"] == math.ceil(600 / 60 / 10) == 1
        missing = await client.get("/_backlog", params={"queues": f"{queue},nope"})
        assert (missing.status_code, missing.json()["error"]) == (404, "queue_not_found")
        bad = await client.get("/_backlog", params={"drain_s": "0"})
        assert (bad.status_code, bad.json()["field"]) == (422, "drain_s")
        assert (await client.get("/_backlog", params={"queue": queue})).status_code == 422
