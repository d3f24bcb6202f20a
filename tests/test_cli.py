"""The `redisq` command, run as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from redisq import RedisQ
from redisq.core.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent


def redisq_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from redisq.cli import run; run()", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_demo_serves_the_example_app_and_exits_after_its_duration() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDISQ_URL", "REDIS_URL")}  # embedded Redis
    env.update(COLUMNS="200", ADMIN_TOKEN="demo-token")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = ["demo", "--duration", "6", "--port", str(port)]
    demo = subprocess.Popen(
        [sys.executable, "-c", "from redisq.cli import run; run()", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not answers(f"{base}/health/live"):
            assert demo.poll() is None, demo.communicate()
            assert time.monotonic() < deadline, "the demo did not start serving"
            time.sleep(0.1)
        ready = httpx.get(f"{base}/health", timeout=5)
        assert (ready.status_code, ready.json()["status"]) == (200, "ready")
        docs = httpx.get(f"{base}/docs", timeout=5)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        queues = httpx.get(f"{base}/queues/", headers={"Authorization": "Bearer demo-token"}, timeout=5)
        assert queues.status_code == 200
        out, err = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert demo.returncode == 0, err
    for line in (f"{base}/docs", f"{base}/queues/", f"{base}/health", "demo-token", "embedded and throwaway"):
        assert line in out, out
    # the traffic it drove: emails with their request ids, a resize's progress, a retried and a dead webhook
    assert "carries its signup's request id" in out, out
    assert len(re.findall(r"resize +\d+%", out)) >= 2 and "resize succeeded" in out, out
    assert "delivered on attempt 3" in out and "dead after 4 attempts" in out, out
    assert "traffic done" in out and out.rstrip().endswith("stopped"), out
    assert "sent the welcome email to ada@example.com" in err  # the app's own log line


def test_demo_without_fastapi_names_the_extra_to_install() -> None:
    blocked = "import sys; sys.modules['uvicorn'] = None; from redisq.cli import run; run()"
    done = subprocess.run(
        [sys.executable, "-c", blocked, "demo"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "needs uvicorn: pip install 'redisq[fastapi]'" in done.stderr


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_stats_and_requeue_dead_commands(redis_url: str, prefix: str, queue: str) -> None:
    rq = RedisQ(redis_url, prefix=prefix, default_queue=queue)

    @rq.task
    def noop() -> None:
        return None

    noop.delay()
    rq.close()
    env = {
        **os.environ,
        "REDISQ_URL": redis_url,
        "REDISQ_PREFIX": prefix,
        "CLI_QUEUE": queue,
        "COLUMNS": "200",
    }
    done = redisq_cli("stats", "tests.cliapp:rq", env=env)
    assert done.returncode == 0, done.stderr
    assert queue in done.stdout
    row = next(line for line in done.stdout.splitlines() if queue in line)
    assert row.split("│")[2].strip() == "1"  # queued
    done = redisq_cli("requeue-dead", "tests.cliapp:rq", queue, env=env)
    assert (done.returncode, done.stdout.strip()) == (0, "requeued 0 jobs")


def test_bad_app_path_is_a_usage_error() -> None:
    done = redisq_cli("worker", "no_such_module:rq")
    assert done.returncode == 2
    assert "cannot import 'no_such_module'" in done.stderr
