"""`redisq worker --processes N` (a supervisor, SIGTERM fanned out, a killed child restarted) and `redisq
worker --reload` (a changed .py file restarts the worker), as real processes on the suite's Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from redisq import JobState, RedisQ

ROOT = Path(__file__).resolve().parent.parent
JOBS = 200


@pytest.fixture
def rq(redis_url: str, prefix: str, queue: str) -> Iterator[RedisQ]:  # type: ignore[override]
    client = RedisQ(redis_url, prefix=prefix, default_queue=queue)
    yield client
    client.close()


def env_for(rq: RedisQ) -> dict[str, str]:
    assert rq.settings.url is not None
    return {
        **os.environ,
        "REDISQ_URL": rq.settings.url,
        "REDISQ_PREFIX": rq.settings.prefix,
        "CLI_QUEUE": rq.settings.default_queue,
        "PYTHONPATH": str(ROOT),
    }


def wait_for(check: Callable[[], bool], what: str, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {within_s}s"
        time.sleep(0.05)


def parent_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))


def live_pids(rq: RedisQ) -> set[int]:
    return {w.pid for w in rq.workers_sync()}


def start(rq: RedisQ, *args: str, cwd: Path = ROOT) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "redisq.cli", "worker", *args]
    return subprocess.Popen(command, cwd=cwd, env=env_for(rq), stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, err


def test_processes_share_the_jobs_and_sigterm_drains_every_one(rq: RedisQ, queue: str) -> None:
    nap = rq.task(name="sup.nap", retries=0)(lambda ms: ms)
    jobs = rq.enqueue_many_sync([nap.call(30) for _ in range(JOBS)])
    supervisor = start(
        rq, "tests.supervisedapp:rq", "--processes", "2", "--concurrency", "4", "--grace", "20"
    )
    try:
        wait_for(lambda: len(live_pids(rq)) == 2, "two worker processes")
        children = live_pids(rq)
        assert {parent_of(pid) for pid in children} == {supervisor.pid}  # children of the supervisor
        wait_for(lambda: rq.stats_sync(queue).succeeded >= 40, "jobs running")
    finally:
        code, err = stop(supervisor)  # SIGTERM mid-run: each child drains its running jobs
    assert code == 0, err
    assert err.count("stopping: no new jobs") == 2, err  # the signal reached both children
    for pid in children:
        assert not Path(f"/proc/{pid}").exists()
    stats = rq.stats_sync(queue)
    states = [job.info_sync().state for job in jobs]
    assert stats.active == 0 and stats.dead == 0 and stats.counters["recovered"] == 0
    assert states.count(JobState.SUCCEEDED) == stats.succeeded
    assert states.count(JobState.SUCCEEDED) + states.count(JobState.QUEUED) == JOBS  # every job counted
    ran_in = {job.result_sync(timeout=1) for job in jobs if job.info_sync().state is JobState.SUCCEEDED}
    assert ran_in == children  # both processes did work


def test_a_killed_child_is_replaced_and_a_burst_supervisor_exits_0(rq: RedisQ, queue: str) -> None:
    supervisor = start(rq, "tests.supervisedapp:rq", "--processes", "2")
    try:
        wait_for(lambda: len(live_pids(rq)) == 2, "two worker processes")
        first = live_pids(rq)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(live_pids(rq) - first) == 1, "a new worker process")
        [replacement] = live_pids(rq) - first
        assert parent_of(replacement) == supervisor.pid
    finally:
        code, err = stop(supervisor)
    assert code == 0, err
    assert f"worker process {victim} exited with -9: starting another" in err
    nap = rq.task(name="sup.nap", retries=0)(lambda ms: ms)
    rq.enqueue_many_sync([nap.call(1) for _ in range(20)])
    burst = start(rq, "tests.supervisedapp:rq", "--processes", "2", "--burst")
    code, err = burst.wait(60), burst.communicate()[1]
    assert code == 0, err
    assert rq.stats_sync(queue).succeeded == 20


APP = """
from redisq import RedisQ

rq = RedisQ()


@rq.task(name="reload.version")
def version() -> int:
    return {version}
"""


def test_reload_restarts_the_worker_with_the_changed_code(rq: RedisQ, tmp_path: Path) -> None:
    (tmp_path / "reloadapp.py").write_text(APP.format(version=1))
    version = rq.task(name="reload.version")(lambda: 0)
    worker = start(rq, "reloadapp:rq", "--queues", rq.settings.default_queue, "--reload", cwd=tmp_path)
    try:
        wait_for(lambda: len(live_pids(rq)) == 1, "the first worker")
        [before] = live_pids(rq)
        assert parent_of(before) == worker.pid
        assert version.delay().result_sync(timeout=10) == 1
        (tmp_path / "reloadapp.py").write_text(APP.format(version=2))
        wait_for(lambda: live_pids(rq) - {before} != set(), "a restarted worker")
        assert version.delay().result_sync(timeout=10) == 2  # the new code runs
        (tmp_path / "notes.txt").write_text("not python")  # ignored: only .py files restart
        time.sleep(1.5)
        assert len(live_pids(rq) - {before}) == 1
    finally:
        code, err = stop(worker)
    assert code == 0, err
    assert "reloadapp.py changed: restarting the worker" in err


def test_reload_without_watchfiles_says_what_to_install() -> None:
    blocked = "import sys; sys.modules['watchfiles'] = None; from redisq.cli import run; run()"
    command = [sys.executable, "-c", blocked, "worker", "tests.cliapp:rq", "--reload"]
    env = {**os.environ, "REDISQ_URL": "redis://127.0.0.1:1/0"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "--reload needs watchfiles: pip install 'redisq[reload]'" in done.stderr


def test_flask_redisq_worker_runs_processes_too(rq: RedisQ) -> None:
    command = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "tests.flaskapp:app",
        "redisq",
        "worker",
        "--processes",
        "2",
    ]
    supervisor = subprocess.Popen(command, cwd=ROOT, env=env_for(rq), stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(live_pids(rq)) == 2, "two flask worker processes")
        assert {parent_of(pid) for pid in live_pids(rq)} == {supervisor.pid}
        assert {w.queues[0] for w in rq.workers_sync()} == {"reports"}  # the app's REDISQ_QUEUES
    finally:
        code, err = stop(supervisor)
    assert code == 0, err
    assert err.count("stopping: no new jobs") == 2, err
