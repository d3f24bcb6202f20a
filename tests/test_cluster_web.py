"""The example FastAPI app on a Redis Cluster (issue 13), served by a real uvicorn with its embedded worker:
a job through the app, /health (which names the topology to an admin), the admin API, and the dashboard's
event stream, all across queues on different masters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from redisq.core.embedded import free_port

from . import topologies

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "cluster-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def test_the_example_app_runs_on_a_cluster_under_uvicorn(
    redis_cluster: topologies.Cluster, tmp_path: Path
) -> None:
    port, prefix = free_port(), f"t{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "REDISQ_URL": redis_cluster.url, "REDISQ_PREFIX": prefix, "ADMIN_TOKEN": TOKEN}
    log = tmp_path / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "redisq.examples.fastapi_app:app", "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            deadline = time.monotonic() + 20
            while True:
                assert server.poll() is None, log.read_text()
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)

            signup = http.post("/signup", json={"email": "ada@example.com"})
            assert signup.status_code == 202, signup.text
            queue, uid = signup.json()["job"].split(":")
            while (job := http.get(f"/queues/{queue}/jobs/{uid}", headers=ADMIN).json())[
                "state"
            ] != "succeeded":
                assert time.monotonic() < deadline + 20, job
                time.sleep(0.05)
            assert job["result"] == "welcome email sent to ada@example.com"

            health = http.get("/queues/_health", headers=ADMIN).json()
            assert health["topology"] == f"cluster {redis_cluster.url.removeprefix('redis+cluster://')}"
            assert health["redis_ok"] is True and health["unreachable_nodes"] == []
            queues = {q["queue"] for q in http.get("/queues/", headers=ADMIN).json()["queues"]}
            masters = {redis_cluster.master_for_key(f"{prefix}:{{{q}}}:queued").port for q in queues}
            assert queue in queues and len(masters) > 1  # the example's queues live on several masters

            with http.stream("GET", "/queues/_events", headers=ADMIN) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        snapshot = json.loads(line.removeprefix("data:"))
                        break
            streamed = {q["queue"]: q for q in snapshot["queues"]}
            assert streamed[queue]["counters"]["succeeded"] >= 1
            assert len(snapshot["workers"]) == 1
    finally:
        server.terminate()
        server.wait(20)
    # uvicorn re-raises the SIGTERM once it has shut down cleanly
    assert server.returncode in (0, -15) and "Application shutdown complete" in log.read_text(), (
        log.read_text()
    )
