"""The middleware under a real uvicorn: one process, several processes, SIGTERM, and --reload."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redisq import RedisQ
from redisq.core.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate, timeout: float = 20.0, every: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(every)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


class Server:
    def __init__(
        self, redis_url: str, prefix: str, *args: str, cwd: Path = ROOT, app: str = "tests.asgiapp:app"
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "REDISQ_URL": redis_url, "REDISQ_PREFIX": prefix, "PYTHONPATH": str(cwd)}
        command = [sys.executable, "-m", "uvicorn", app, "--port", str(self.port), "--log-level", "warning"]
        self.process = subprocess.Popen([*command, *args], cwd=cwd, env=env)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """The exit status; uvicorn re-raises a SIGTERM after its graceful shutdown, which shows as -15."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()


@pytest.fixture
def served(redis_url: str, prefix: str) -> Iterator[list[Server]]:
    servers: list[Server] = []
    yield servers
    for server in servers:
        server.stop(signal.SIGKILL)


def runs(rq: RedisQ) -> dict[str, int]:
    raw = rq.backend_sync().client.hgetall(f"{rq.settings.prefix}:runs")
    return {k.decode(): int(v) for k, v in raw.items()}


def test_several_server_processes_run_each_job_once(
    redis_url: str, prefix: str, served: list[Server]
) -> None:
    server = Server(redis_url, prefix, "--workers", "2")
    served.append(server)
    wait_until(lambda: answers(f"{server.url}/health/live"))
    rq = RedisQ(redis_url, prefix=prefix)
    try:
        pids: set[str] = set()
        job_ids = []
        with httpx.Client(base_url=server.url) as client:
            for n in range(200):
                body = client.post(f"/record/{n}").json()
                job_ids.append(body["job"])
                pids.add(body["pid"])
        wait_until(lambda: len(runs(rq)) == 200)
        time.sleep(0.5)  # a second run, if any, would show now
        assert sorted(runs(rq)) == sorted(job_ids)
        assert set(runs(rq).values()) == {1}
        assert len({w.pid for w in rq.health_sync().workers}) == 2  # one embedded worker per process
        assert server.stop() == 0
        wait_until(lambda: rq.health_sync().workers == [], timeout=10)  # each deregistered as it drained
    finally:
        rq.close()
    assert len(pids) >= 1


def test_sigterm_drains_the_embedded_worker(redis_url: str, prefix: str, served: list[Server]) -> None:
    server = Server(redis_url, prefix)
    served.append(server)
    wait_until(lambda: answers(f"{server.url}/health"))
    rq = RedisQ(redis_url, prefix=prefix)
    try:
        with httpx.Client(base_url=server.url) as client:
            ids = [client.post(f"/record/{n}").json()["job"] for n in range(20)]
            napping = client.post("/nap/1.5").json()["job"]
        wait_until(lambda: len(runs(rq)) == 20 and rq.job(napping).info_sync().state.value == "active")
        assert server.stop() in (0, -signal.SIGTERM)
        # The job that was running at SIGTERM finished within the grace period (5 s) before the exit.
        assert all(rq.job(i).info_sync().state.value == "succeeded" for i in [*ids, napping])
        assert rq.health_sync().workers == []
    finally:
        rq.close()


def test_reload_leaves_no_worker_behind(
    redis_url: str, prefix: str, served: list[Server], tmp_path: Path
) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(ROOT / "tests", app_dir / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    server = Server(redis_url, prefix, "--reload", "--reload-dir", str(app_dir), cwd=app_dir)
    served.append(server)
    wait_until(lambda: answers(f"{server.url}/health/live"))
    rq = RedisQ(redis_url, prefix=prefix)
    try:
        wait_until(lambda: len(rq.health_sync().workers) == 1)
        [before] = rq.health_sync().workers
        module = app_dir / "tests" / "asgiapp.py"
        module.write_text(module.read_text() + "\n# touched\n")
        wait_until(lambda: [w.pid for w in rq.health_sync().workers] not in ([], [before.pid]), timeout=30)
        [after] = rq.health_sync().workers  # the old process drained and deregistered: one worker
        assert after.pid != before.pid
        with httpx.Client(base_url=server.url) as client:
            job_id = client.post("/record/1").json()["job"]
        assert rq.job(job_id).result_sync(timeout=10) == 1
        assert server.stop() == 0
        wait_until(lambda: rq.health_sync().workers == [], timeout=10)
    finally:
        rq.close()
