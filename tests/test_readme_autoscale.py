"""The README's "Autoscaling (KEDA)" section, run as written: its block reads the figures of the README's
own app (myapp/web.py), and its auth callable gives an autoscaler's token read access and nothing more."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from redisq.fastapi import admin_router

from . import readmekit
from .test_readme import Project, imported, project, run_python  # noqa: F401 - `project` is a fixture


async def test_the_autoscaling_section(project: Project) -> None:  # noqa: F811 - the fixture
    [block] = readmekit.of_kind("python", "autoscale")
    async with imported("myapp.web") as web:
        await web.send_welcome.enqueue(1)
        names, out = await run_python(block.code)
        emails = names["emails"]
        # One job waiting, no worker alive: W unknown (1 s assumed), 1 / 120 of a slot, still one worker.
        assert (emails.desired_workers, emails.busy_slots, emails.mean_run_s) == (1, 0.0, None)
        assert emails.drain_slots == pytest.approx(1 / 120)
        assert out.splitlines() == [f"1 0.0 {1 / 120} None", "1"]


async def test_the_autoscalers_token_reads_and_changes_nothing(
    project: Project,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTOSCALER_TOKEN", "keda-t0ken")
    async with imported("myapp.web") as web:
        from myapp.autoscaler_auth import admin_or_autoscaler  # type: ignore[import-not-found]

        app = FastAPI()
        app.include_router(admin_router(web.rq, auth=admin_or_autoscaler), prefix="/queues")
        keda, admin = {"authorization": "Bearer keda-t0ken"}, {"authorization": "Bearer t0ken"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            backlog = await client.get("/queues/emails/backlog", headers=keda)
            assert backlog.status_code == 200 and backlog.json()["desired_workers"] == 0
            assert (await client.post("/queues/emails/pause", headers=keda)).status_code == 403
            assert (await client.get("/queues/emails/backlog")).status_code == 401
            assert (
                await client.get("/queues/emails/backlog", headers={"authorization": "Bearer x"})
            ).status_code == 401
            assert (await client.post("/queues/emails/pause", headers=admin)).status_code == 200
