"""`--log-format json` (issue 14): a real worker's every stderr line is one JSON object with the job's fields,
and each attempt ends with a line that carries its outcome and duration; the text format stays as it was;
the formatter, the filter and the structlog processor work in a user's own setup."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from redisq import RedisQ, Worker
from redisq.core import context
from redisq.logs import JobContextFilter, JsonFormatter, add_job_context

from . import logapp
from .conftest import FAST

ROOT = Path(__file__).resolve().parent.parent
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \S+ \[job=\S+ req=\S+\]: .*")


@pytest.fixture
def in_a_request() -> Iterator[None]:
    tokens = context.request_id.set("req-77"), context.traceparent.set(TRACEPARENT)
    yield
    context.traceparent.reset(tokens[1])
    context.request_id.reset(tokens[0])


def enqueue_the_app_jobs(redis_url: str, prefix: str, queue: str) -> dict[str, str]:
    """The three jobs of tests/logapp.py, enqueued as from a request (a request id and a trace context)."""
    rq = RedisQ(redis_url, prefix=prefix, default_queue=queue)
    try:
        tasks = logapp.register(rq)
        return {
            "ok": tasks["ok"].delay(5).id,
            "broken": tasks["broken"].delay().id,
            "flaky": tasks["flaky"].delay().id,
        }
    finally:
        rq.close()


def run_burst_worker(redis_url: str, prefix: str, queue: str, *options: str) -> list[str]:
    env = {
        **os.environ,
        "REDISQ_URL": redis_url,
        "REDISQ_PREFIX": prefix,
        "REDISQ_DEFAULT_QUEUE": queue,
        "PYTHONPATH": str(ROOT),
    }
    command = [str(Path(sys.executable).parent / "redisq"), "worker", "tests.logapp:rq", "--burst", *options]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def test_json_lines_carry_the_job_fields_and_each_attempt_ends_with_its_outcome(
    redis_url: str, prefix: str, queue: str, in_a_request: None
) -> None:
    ids = enqueue_the_app_jobs(redis_url, prefix, queue)
    lines = [json.loads(line) for line in run_burst_worker(redis_url, prefix, queue, "--log-format", "json")]
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys(), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    job_lines = [line for line in lines if "job_id" in line]
    for line in job_lines:
        assert line["queue"] == queue and line["request_id"] == "req-77" and line["trace_id"] == TRACE_ID
        assert line["job_id"] in ids.values() and line["task"].startswith("logs.")
    [working] = [line for line in job_lines if line["message"] == "working on 5"]
    assert (working["job_id"], working["task"], working["attempt"], working["logger"]) == (
        ids["ok"],
        "logs.ok",
        1,
        "tests.logapp",
    )
    [failed] = [line for line in job_lines if line["message"] == "could not do it"]
    assert failed["level"] == "ERROR" and failed["job_id"] == ids["broken"]
    assert 'raise RuntimeError("broken on purpose")' in failed["exception"]
    assert [line["attempt"] for line in job_lines if line["message"].startswith("attempt ")] == [1, 2]

    ends = [(line["job_id"], line["attempt"], line["outcome"]) for line in job_lines if "outcome" in line]
    assert sorted(ends) == sorted(
        [
            (ids["ok"], 1, "ok"),
            (ids["broken"], 1, "dead"),
            (ids["flaky"], 1, "retry"),
            (ids["flaky"], 2, "ok"),
        ]
    )
    for line in job_lines:
        if "outcome" in line:
            assert line["level"] == "INFO" and isinstance(line["duration_s"], float)
            assert 0 <= line["duration_s"] < 10
            assert line["message"] == f"job {line['job_id']} {line['outcome']} in {line['duration_s']:.3f}s"


def test_the_text_format_is_unchanged(redis_url: str, prefix: str, queue: str, in_a_request: None) -> None:
    ids = enqueue_the_app_jobs(redis_url, prefix, queue)
    lines = run_burst_worker(redis_url, prefix, queue)  # text is the default
    starts = [line for line in lines if TEXT_LINE.fullmatch(line)]
    assert starts and not any(line.startswith("{") for line in lines)
    assert any(f"[job={ids['ok']} req=req-77]: working on 5" in line for line in starts)
    assert any(f"[job={ids['ok']} req=req-77]: job {ids['ok']} ok in " in line for line in starts)


def test_flask_redisq_worker_takes_the_log_format(redis_url: str, prefix: str) -> None:
    from .flaskapp import build_report, create_app

    app = create_app(REDISQ_URL=redis_url, REDISQ_PREFIX=prefix)
    with app.app_context():
        job = build_report.delay(4)
    app.extensions["redisq"].client.close()
    env = {**os.environ, "REDISQ_URL": redis_url, "REDISQ_PREFIX": prefix, "PYTHONPATH": str(ROOT)}
    flask = [sys.executable, "-m", "flask", "--app", "tests.flaskapp:app", "redisq", "worker", "--burst"]
    done = subprocess.run(
        [*flask, "--log-format", "json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    [building] = [line for line in lines if line["message"] == "building report 4"]
    assert (building["job_id"], building["queue"], building["level"]) == (job.id, "reports", "WARNING")
    assert [line["outcome"] for line in lines if line.get("job_id") == job.id and "outcome" in line] == ["ok"]


def test_the_formatter_and_filter_in_a_users_own_handler(in_a_request: None) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(JobContextFilter())
    logger = logging.getLogger("tests.logs.own")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("plain %s", "words", extra={"order": 12})
        try:
            {}["missing"]
        except KeyError:
            logger.exception("lookup failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "plain words" and first["order"] == 12 and first["level"] == "WARNING"
    assert (first["request_id"], first["trace_id"]) == ("req-77", TRACE_ID)
    assert "job_id" not in first  # not in a job
    assert second["exception"].startswith("Traceback") and "KeyError: 'missing'" in second["exception"]


async def test_the_structlog_processor_adds_the_job_fields(rq: RedisQ, queue: str) -> None:
    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out), processors=[add_job_context, structlog.processors.JSONRenderer()]
    )

    @rq.task(name="logs.structured")
    async def structured(n: int) -> None:
        logger.info("inside", n=n, queue="given by the call")

    job = await structured.enqueue(3)
    await Worker(rq, [queue], settings=FAST, burst=True).run()
    [line] = [json.loads(text) for text in out.getvalue().splitlines()]
    expected: dict[str, Any] = {"event": "inside", "n": 3, "queue": "given by the call"}
    assert line == {**expected, "task": "logs.structured", "job_id": job.id, "attempt": 1}
