"""The Flask app under a real WSGI server (gunicorn), with `flask redisq worker` as its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redisq import RedisQ
from redisq.core.embedded import free_port

from .test_uvicorn import answers, wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_a_view_under_gunicorn_enqueues_and_flask_redisq_worker_runs_it(
    redis_url: str, prefix: str, processes: list[subprocess.Popen[str]]
) -> None:
    env = {**os.environ, "REDISQ_URL": redis_url, "REDISQ_PREFIX": prefix, "PYTHONPATH": str(ROOT)}
    port = free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}"]
    processes.append(subprocess.Popen([*gunicorn, "tests.flaskapp:app"], cwd=ROOT, env=env, text=True))
    flask = [sys.executable, "-m", "flask", "--app", "tests.flaskapp:app", "redisq", "worker", "--grace", "5"]
    worker = subprocess.Popen(flask, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    processes.append(worker)
    wait_until(lambda: answers(f"http://127.0.0.1:{port}/health/live"))
    rq = RedisQ(redis_url, prefix=prefix)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            response = client.post("/reports/9", headers={"X-Request-ID": "from-gunicorn"})
            assert response.status_code == 202 and response.headers["x-request-id"] == "from-gunicorn"
            job = rq.job(response.json()["job"])
            assert job.result_sync(timeout=15) == {
                "report": 9,
                "app": "reports-app",
                "label": "reports-app",
                "g": 9,
            }
            assert job.info_sync().request_id == "from-gunicorn"
            wait_until(lambda: client.get("/health").status_code == 200)
            # The admin blueprint under gunicorn: refused without the app's auth, served with it.
            assert client.get("/queues/reports").status_code == 401
            admin = {"x-admin": "yes"}
            assert client.get("/queues/reports", headers=admin).json()["queue"] == "reports"
            cross_site = {**admin, "origin": "https://evil.example"}
            assert client.post("/queues/reports/pause", headers=cross_site).status_code == 403
            assert client.post("/queues/reports/pause", headers=admin).json()["paused"] is True
        worker.send_signal(signal.SIGTERM)
        _, log = worker.communicate(timeout=30)
        assert worker.returncode == 0
        assert f"job={job.id} req=from-gunicorn" in log  # the job's log lines carry the request's id
    finally:
        rq.close()
