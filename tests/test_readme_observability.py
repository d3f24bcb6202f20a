"""The README's "OpenTelemetry" and "Logs" sections, run as written (issue 14): the traced module's enqueue
and its worker print one trace; the worker's JSON lines, the dictConfig and the structlog setup carry the
job's fields. Each runs in processes of its own: a tracer provider or a logging config is process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from redisq import RedisQ

from . import readmekit
from .test_readme import Project, project  # noqa: F401 - the fixture, for getfixturevalue

PYTHON = sys.executable


@pytest.fixture
def readme(request: pytest.FixtureRequest) -> Project:
    """The project folder the README's files make (test_readme.py's `project` fixture)."""
    found: Project = request.getfixturevalue("project")
    return found


def console_spans(text: str) -> list[dict[str, Any]]:
    """The JSON objects that ConsoleSpanExporter printed, one after another (indented, not one a line)."""
    decoder, spans, at = json.JSONDecoder(), [], text.find("{")
    while at != -1:
        span, end = decoder.raw_decode(text, at)
        spans.append(span)
        at = text.find("{", end)
    return spans


def test_the_traced_module_and_its_worker_print_one_trace(readme: Project) -> None:
    enqueue, worker = readmekit.of_kind("shell", "otel")[0].lines
    enqueued = readme.run(enqueue).stdout
    job_id, _, rest = enqueued.partition("\n")
    [send] = console_spans(rest)
    spans = console_spans(readme.run(worker).stdout)
    [process] = [s for s in spans if s["name"] == "process receipts"]
    [inside] = [s for s in spans if s["name"] == "render receipt"]
    assert (send["name"], send["kind"], send["attributes"]["messaging.message.id"]) == (
        "send receipts",
        "SpanKind.PRODUCER",
        job_id,
    )
    assert (process["kind"], process["parent_id"]) == ("SpanKind.CONSUMER", send["context"]["span_id"])
    assert inside["parent_id"] == process["context"]["span_id"]
    assert {s["context"]["trace_id"] for s in (send, process, inside)} == {send["context"]["trace_id"]}
    assert process["attributes"]["redisq.outcome"] == "ok"


def test_the_json_log_lines_of_a_worker(readme: Project) -> None:
    [worker] = readmekit.of_kind("shell", "logs")[0].lines
    rq = RedisQ(readme.url, prefix=readme.prefix)
    try:

        @rq.task(name="myapp.jobs.send_welcome", queue="emails")
        async def send_welcome(user_id: int) -> str: ...

        job = send_welcome.delay(5)
    finally:
        rq.close()
    lines = [json.loads(line) for line in readme.run(worker).stderr.splitlines()]
    [end] = [line for line in lines if line.get("job_id") == job.id]
    assert (end["queue"], end["task"], end["attempt"], end["outcome"]) == (
        "emails",
        "myapp.jobs.send_welcome",
        1,
        "ok",
    )
    assert end["duration_s"] >= 0 and end["level"] == "INFO" and end["logger"] == "redisq.worker"


# Each setup in a fresh interpreter: a job enqueued and run by an in-process burst worker, which logs.
RUN_A_JOB = """
import asyncio, logging
from redisq import Worker
from myapp.jobs import rq, send_welcome

async def main():
    job = await send_welcome.enqueue(9)
    LOG(job.id)
    await Worker(rq, ["emails"], burst=True).run()
    await rq.aclose()

asyncio.run(main())
"""


def run_a_job(readme: Project, setup: str, log_call: str) -> tuple[list[dict[str, Any]], str]:
    code = setup + RUN_A_JOB.replace("LOG(job.id)", log_call)
    done = subprocess.run(
        [PYTHON, "-c", code], cwd=readme.folder, env=readme.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in (done.stderr + done.stdout).splitlines()], done.stderr


def test_the_dictconfig_of_the_readme(readme: Project) -> None:
    setup = "import logging.config\nfrom myapp.logconfig import LOGGING\nlogging.config.dictConfig(LOGGING)\n"
    lines, _ = run_a_job(readme, setup, 'logging.getLogger("myapp").info("enqueued %s", job.id)')
    [enqueued] = [line for line in lines if line["message"].startswith("enqueued ")]
    job_id = enqueued["message"].split()[1]
    [end] = [line for line in lines if line.get("job_id") == job_id]
    assert (end["queue"], end["outcome"], end["attempt"]) == ("emails", "ok", 1)


def test_the_structlog_setup_of_the_readme(readme: Project) -> None:
    setup = "import myapp.structlogging, structlog\n"
    lines, _ = run_a_job(readme, setup, 'structlog.get_logger().info("enqueued", id=job.id)')
    [enqueued] = [line for line in lines if line.get("event") == "enqueued"]
    assert enqueued["level"] == "info" and "job_id" not in enqueued  # logged outside the job
    assert enqueued["timestamp"].endswith("Z")
