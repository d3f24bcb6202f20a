"""The `redisq` command, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from redisq import RedisQ

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


def test_demo_runs_every_kind_of_job_on_an_embedded_server() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDISQ_URL", "REDIS_URL")}
    env["COLUMNS"] = "200"
    done = redisq_cli("demo", "--jobs", "60", env=env)
    assert done.returncode == 0, done.stderr
    assert "embedded and throwaway" in done.stdout
    # 60 jobs: 15% flaky (succeed on retry), 5% doomed (3 attempts each, then dead)
    assert "all 60 jobs settled" in done.stdout
    assert "57 succeeded, 15 retries, 3 dead letters" in done.stdout
    assert "ValueError: record" in done.stdout


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
