"""The issue's end-to-end trace (issue 14): a FastAPI app instrumented with OpenTelemetry, under a real
uvicorn, enqueues a job from a request; a `redisq worker` process runs it. The request's server span, the
enqueue's `send` span, the job's `process` span and the task's own span form one trace across the two
processes (each exports to a file of its own, tests/tracedapp.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from redisq import RedisQ
from redisq.core.embedded import free_port

from .test_uvicorn import answers, wait_until

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def spans_in(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_request_its_enqueue_and_the_job_form_one_trace(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    base = {**os.environ, "REDISQ_URL": redis_url, "REDISQ_PREFIX": prefix, "PYTHONPATH": str(ROOT)}
    web_spans, worker_spans = tmp_path / "web.jsonl", tmp_path / "worker.jsonl"
    port = free_port()
    uvicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.tracedapp:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**base, "TRACE_FILE": str(web_spans), "SERVICE_NAME": "web"},
    )
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/openapi.json"))
        response = httpx.post(f"http://127.0.0.1:{port}/signup/7", timeout=10)
        assert response.status_code == 202
        job_id = response.json()["job"]
    finally:
        uvicorn.send_signal(signal.SIGTERM)
        uvicorn.wait(timeout=30)
    worker = subprocess.run(
        [str(BIN / "redisq"), "worker", "tests.tracedapp:rq", "--burst"],
        cwd=ROOT,
        env={**base, "TRACE_FILE": str(worker_spans), "SERVICE_NAME": "worker"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr
    rq = RedisQ(redis_url, prefix=prefix)
    try:
        assert rq.job(job_id).result_sync(timeout=5) == "welcome 7"
        traceparent = rq.job(job_id).info_sync().traceparent
    finally:
        rq.close()

    web, done = spans_in(web_spans), spans_in(worker_spans)
    [request] = [s for s in web if s["kind"] == "SERVER" and s["name"].startswith("POST")]
    [send] = [s for s in web if s["name"] == "send default"]
    [process] = [s for s in done if s["name"] == "process default"]
    [inside] = [s for s in done if s["name"] == "render welcome email"]
    assert request["name"] == "POST /signup/{user_id}" and request["parent_id"] is None
    assert (send["kind"], send["parent_id"]) == ("PRODUCER", request["span_id"])
    assert (process["kind"], process["parent_id"]) == ("CONSUMER", send["span_id"])
    assert (inside["kind"], inside["parent_id"]) == ("INTERNAL", process["span_id"])
    assert {s["trace_id"] for s in (request, send, process, inside)} == {request["trace_id"]}
    assert traceparent is not None and traceparent.split("-")[1:3] == [send["trace_id"], send["span_id"]]
    assert (
        send["attributes"]["messaging.message.id"] == process["attributes"]["messaging.message.id"] == job_id
    )
    assert process["attributes"]["messaging.system"] == "redisq"
    assert process["attributes"]["redisq.task"] == "tracedapp.welcome"
    assert (process["service"], send["service"]) == ("worker", "web")
    tree = " > ".join(f"{s['name']} [{s['kind']}, {s['service']}]" for s in (request, send, process, inside))
    print(f"one trace {request['trace_id'][:8]}: {tree}")
