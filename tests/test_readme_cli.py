"""The README's "Operator CLI" and "Configuration" sections, run as written in the project the README
builds: the operator commands on a dead job, the supervisor and the reloader (stopped with SIGTERM, exit
0), and a worker that takes its app, queues and concurrency from the README's redisq.toml."""

from __future__ import annotations

import asyncio
import json
import re
import time

from redisq import JobState, RedisQ

from . import readmekit
from .conftest import running_worker
from .test_readme import Project, project  # noqa: F401 - `project` is a fixture

EXAMPLE_ID = re.compile(r"emails:[A-Za-z0-9_-]{16}")


async def a_dead_welcome_email(project: Project) -> str:  # noqa: F811 - the fixture's type
    """A job of the README's task that died: a client of the same name whose version of it fails."""
    rq = RedisQ(project.url, prefix=project.prefix)

    @rq.task(name="myapp.jobs.send_welcome", queue="emails", retries=0)
    def failing(user_id: int) -> str:
        raise ConnectionError(f"mail server refused user {user_id}")

    try:
        job = await failing.enqueue(5)
        async with running_worker(rq, queues=["emails"]):
            for _ in range(200):
                if (await job.info()).state is JobState.DEAD:
                    return job.id
                await asyncio.sleep(0.05)
        raise AssertionError("the job did not die")
    finally:
        await rq.aclose()


async def test_the_operator_cli_section(project: Project) -> None:  # noqa: F811
    commands, workers = readmekit.of_kind("shell", "cli")[:2]
    dead = await a_dead_welcome_email(project)
    out: dict[str, str] = {}
    for line in commands.lines:
        out[line.split()[1]] = project.run(EXAMPLE_ID.sub(dead, line)).stdout
    assert re.search(r"emails\s.*│\s+1\s+│", out["queues"]), out["queues"]  # one dead letter
    assert dead in out["jobs"] and "ConnectionError" in out["jobs"]
    assert "mail server refused user 5" in out["job"] and "traceback:" in out["job"]
    assert json.loads(out["retry"]) == {"id": dead, "action": "retried"}
    assert out["pause"] == "paused emails\n" and out["resume"] == "resumed emails\n"
    assert out["purge"] == "deleted 0 dead jobs of emails\n"
    assert json.loads(out["workers"]) == {"workers": []}
    assert "redisq monitor" in out["monitor"] and "emails" in out["monitor"]
    assert re.search(r"drain +[0-9.]+ s +[0-9]+ jobs/s", out["bench"]), out["bench"]

    supervised, reloading = workers.lines
    with project.running(supervised):  # SIGTERM at the end: both processes drain, exit 0
        rq = RedisQ(project.url, prefix=project.prefix)
        try:
            deadline = time.monotonic() + 30
            while len(rq.workers_sync()) < 2:
                assert time.monotonic() < deadline, "the two worker processes did not start"
                await asyncio.sleep(0.1)
            assert rq.job(dead).result_sync(timeout=10) == "sent to user 5"  # the retried job, now
        finally:
            rq.close()
    rq = RedisQ(project.url, prefix=project.prefix)
    try:
        before = {w.pid for w in rq.workers_sync()}
        with project.running(reloading) as process:
            deadline = time.monotonic() + 30
            while not {w.pid for w in rq.workers_sync()} - before:  # the reloader's worker is up
                assert process.poll() is None and time.monotonic() < deadline, "no worker under --reload"
                await asyncio.sleep(0.1)
    finally:
        rq.close()


async def test_the_configuration_section(project: Project) -> None:  # noqa: F811
    [toml] = readmekit.of_kind("toml", "cli")
    [config, worker] = readmekit.of_kind("shell", "cli")[2].lines
    (project.folder / "redisq.toml").write_text(toml.code)
    shown = project.run(config).stdout
    assert re.search(r"worker\.concurrency\s+│ 20\s+│ file \(redisq\.toml: worker\.concurrency\)", shown), (
        shown
    )
    assert re.search(r"client\.prefix\s+│ \S+\s+│ env \(REDISQ_PREFIX\)", shown)  # the env over the file
    assert re.search(r"client\.result_ttl_s\s+│ 7200\s+│ file", shown)
    rq = RedisQ(project.url, prefix=project.prefix)
    try:
        rq.task(name="myapp.jobs.render_report", queue="reports")(lambda report_id: None).delay(3)
        done = project.run(worker)  # app, queues and concurrency from the file
        assert "serving emails, reports with concurrency 20" in done.stderr
        assert rq.stats_sync("reports").succeeded == 1
    finally:
        rq.close()
