"""The README's "Access per queue" block, run: the billing team's token sees `invoices` (admin) and the
`reports-*` queues (read) and nothing of `payroll`; the ops token sees every queue."""

from __future__ import annotations

import httpx

from redisq import RedisQ

from . import readmekit
from .asgikit import lifespan
from .test_readme import Project, project, run_python  # noqa: F401  (the fixture)


async def test_access_per_queue(project: Project) -> None:  # noqa: F811 - the fixture
    [use] = readmekit.of_kind("python", "access")
    names, _ = await run_python(use.code)
    app, rq = names["app"], names["rq"]
    assert isinstance(rq, RedisQ)
    jobs = {}
    for queue in ("invoices", "reports-daily", "payroll"):
        task = rq.task(name=f"readme.{queue}", queue=queue)(_nothing)
        jobs[queue] = await task.enqueue()
    billing, ops = {"x-team": "billing-token"}, {"x-team": "ops-token"}
    try:
        async with (
            lifespan(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app/queues") as client,
        ):
            listed = (await client.get("/", headers=billing)).json()["queues"]
            assert [q["queue"] for q in listed] == ["invoices", "reports-daily"]
            assert (await client.get("/payroll", headers=billing)).status_code == 404
            daily = jobs["reports-daily"]
            assert (
                await client.post(f"/reports-daily/jobs/{daily.uid}/cancel", headers=billing)
            ).status_code == 403
            invoice = jobs["invoices"]
            assert (
                await client.post(f"/invoices/jobs/{invoice.uid}/cancel", headers=billing)
            ).status_code == 200
            me = (await client.get("/_me", headers=billing)).json()
            assert me == {"access": "admin", "queues": {"invoices": "admin", "reports-daily": "read"}}
            assert (await client.get("/_redis", headers=billing)).status_code == 403
            everything = (await client.get("/", headers=ops)).json()["queues"]
            assert {q["queue"] for q in everything} == {"invoices", "reports-daily", "payroll"}
            assert (await client.get("/", headers={"x-team": "nobody"})).status_code == 401
    finally:
        await rq.aclose()


def _nothing() -> None: ...
