"""The README's "Metrics (Prometheus)" blocks, run: the worker command's own metrics server, and the
FastAPI app instrumented by the python block, scraped at /queues/_metrics with the admin API's token."""

from __future__ import annotations

import asyncio
import time

import httpx

from redisq.core.embedded import free_port

from . import readmekit
from .asgikit import lifespan
from .test_prometheus import Samples, parse
from .test_readme import Project, project, run_python  # noqa: F401  (the fixture)


async def test_the_metrics_section(project: Project) -> None:  # noqa: F811 - the fixture
    [worker] = readmekit.of_kind("shell", "metrics")[0].lines
    port = free_port()
    with project.running(worker.replace("9108", str(port))):
        deadline = time.monotonic() + 30
        samples: Samples = {}
        async with httpx.AsyncClient(timeout=1) as http:
            # The server is up before the worker's start hooks have set its gauges.
            while samples.get(("redisq_worker_concurrency", ())) != 10:
                assert time.monotonic() < deadline, f"the worker's metrics did not come up: {samples}"
                await asyncio.sleep(0.1)
                try:
                    samples = parse((await http.get(f"http://127.0.0.1:{port}/metrics")).text)
                except httpx.TransportError:
                    continue
        assert samples[("redisq_up", ())] == 1

    [use] = readmekit.of_kind("python", "metrics")
    names, _ = await run_python(use.code)
    app, rq = names["app"], names["rq"]
    try:
        async with (
            lifespan(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client,
        ):
            signup = await client.post("/signup", params={"user_id": 3})
            assert await rq.job(signup.json()["job"]).result(timeout=10) is None
            assert (await client.get("/queues/_metrics")).status_code == 401
            scraped = await client.get("/queues/_metrics", headers={"authorization": "Bearer t0ken"})
    finally:
        await rq.aclose()
    assert scraped.status_code == 200
    samples = parse(scraped.text)
    labels = (("queue", "emails"), ("task", "myapp.web.send_welcome"))
    assert samples[("redisq_jobs_enqueued_total", labels)] == 1
    assert samples[("redisq_job_run_seconds_count", labels)] == 1
    assert samples[("redisq_job_wait_seconds_count", labels)] == 1
