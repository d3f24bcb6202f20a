"""The README's "Periodic jobs" section, run as written: its module declares the schedules, a worker
(in-process, as `redisq worker myapp.periodic:rq` would run) writes them, and its block manages them."""

from __future__ import annotations

import asyncio

from redisq import Worker

from . import readmekit
from .conftest import FAST
from .test_readme import Project, imported, project, run_python  # noqa: F401 - `project` is a fixture


async def test_the_periodic_jobs_section(project: Project) -> None:  # noqa: F811 - the fixture
    [block] = readmekit.of_kind("python", "schedules")
    async with imported("myapp.periodic") as periodic:
        rq = periodic.rq
        assert sorted(rq.declared_schedules) == ["myapp.periodic.nightly_cleanup", "report-7"]
        worker = Worker(rq, ["reports"], settings=FAST)
        running = asyncio.create_task(worker.run())
        try:
            for _ in range(100):  # the worker writes the declared schedules as it starts
                if len(await rq.schedules.list(["reports"])) == 2:
                    break
                await asyncio.sleep(0.05)
            names, _ = await run_python(block.code)
            assert {s.id for s in names["listed"]} == {"myapp.periodic.nightly_cleanup", "report-7"}
            assert await names["job"].result(timeout=10) is None  # run now: render_report(7) ran
            info = await rq.schedules.get("report-7")
            assert not info.paused and info.last_job_uid == names["job"].uid
            assert {s.id for s in await rq.schedules.list()} == {"myapp.periodic.nightly_cleanup", "report-7"}
        finally:
            worker.stop()
            await asyncio.wait_for(running, 30)
