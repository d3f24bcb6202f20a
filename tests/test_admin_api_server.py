"""The admin API served by a real uvicorn (tests/adminapp.py), and fuzzed from its OpenAPI schema."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from redisq import RedisQ
from redisq.core.embedded import free_port
from redisq.integrations.fastapi.admin import admin_router

from .adminkit import TRUSTED_ORIGIN

ROOT = Path(__file__).resolve().parent.parent  # uvicorn imports `tests.adminapp` from here
ROOT_PATH = "/proxy"  # as if behind a proxy that serves the app under /proxy and strips it
QUEUE = f"q-{uuid.uuid4().hex[:8]}"  # the server's queue, with tasks registered on it


@dataclass(frozen=True)
class Server:
    url: str  # what the proxy would forward to: no root path
    queue: str
    prefix: str


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port, queue, prefix = free_port(), QUEUE, f"t{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "REDISQ_URL": redis_url, "ADMIN_TEST_PREFIX": prefix, "ADMIN_TEST_QUEUE": queue}
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    command = [
        sys.executable, "-m", "uvicorn", "tests.adminapp:app",
        "--host", "127.0.0.1", "--port", str(port), "--root-path", ROOT_PATH, "--no-access-log",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/queues/{queue}").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"uvicorn did not start: {log.read_text()}"
            time.sleep(0.05)
        yield Server(url, queue, prefix)
    finally:
        os.kill(proc.pid, signal.SIGTERM)  # graceful: the app's lifespan closes its connections
        proc.wait(10)  # uvicorn re-raises the signal once it has shut down, so the code is -SIGTERM
        assert "Application shutdown complete" in log.read_text(), log.read_text()


def test_a_real_server_behind_a_root_path(server: Server) -> None:
    with httpx.Client(base_url=server.url) as client:
        for mount in ("/queues", "/plain/queues"):  # the FastAPI router, the Starlette app
            listed = client.get(f"{mount}/")
            assert listed.status_code == 200 and server.queue in [q["queue"] for q in listed.json()["queues"]]
            same_origin = {"origin": server.url, "sec-fetch-site": "same-origin"}
            body = {"task": "adminapp.add", "args": [2, 3], "delay_s": 60}
            created = client.post(f"{mount}/{server.queue}/jobs", json=body, headers=same_origin)
            assert created.status_code == 201, created.text
            uid = created.json()["id"].rpartition(":")[2]
            job = client.get(f"{mount}/{server.queue}/jobs/{uid}").json()
            assert (job["task"], job["args"], job["state"]) == ("adminapp.add", [2, 3], "scheduled")
            evil = client.post(
                f"{mount}/{server.queue}/jobs/{uid}/cancel", headers={"origin": "https://evil.example"}
            )
            assert evil.status_code == 403
            trusted = {"origin": TRUSTED_ORIGIN, "sec-fetch-site": "cross-site"}
            assert (
                client.post(f"{mount}/{server.queue}/jobs/{uid}/cancel", headers=trusted).status_code == 200
            )
        schema = client.get("/openapi.json").json()
        assert schema["servers"] == [{"url": ROOT_PATH}]
        assert "/queues/{queue}/jobs/{uid}/retry" in schema["paths"]


def _openapi() -> dict[str, Any]:
    """The router's schema, as the served app has it (pytest collects the cases before any server runs)."""
    app = FastAPI()
    app.include_router(
        admin_router(RedisQ("redis://127.0.0.1:1/0"), allow_anonymous="admin"), prefix="/queues"
    )
    return app.openapi()


schema = schemathesis.openapi.from_dict(_openapi())


@schema.hook
def before_generate_path_parameters(
    context: schemathesis.HookContext, strategy: st.SearchStrategy[dict[str, Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    # Random queue names only reach the 404 path: half the cases name the queue that has tasks and jobs.
    def known_queue(params: Any) -> Any:
        return {**params, "queue": QUEUE} if isinstance(params, dict) and "queue" in params else params

    return st.one_of(strategy, strategy.map(known_queue))


@schema.hook
def before_generate_body(
    context: schemathesis.HookContext, strategy: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    # Random task names only reach "no such task": some cases name a registered task with arguments that
    # fit, keeping the fuzzed options (delay_s, priority), so that enqueueing itself is fuzzed too.
    def registered_task(body: Any) -> st.SearchStrategy[Any]:
        if not isinstance(body, dict) or "task" not in body:
            return st.just(body)
        return st.text(max_size=20).map(
            lambda name: {**body, "task": "adminapp.greet", "args": [name], "kwargs": {}}
        )

    return st.one_of(strategy, strategy.flatmap(registered_task))


@schema.parametrize()
@settings(
    max_examples=20,
    derandomize=True,  # the same cases on every run: a CI failure reproduces locally
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.parametrize("mount", ["", "/plain"])  # the FastAPI router; the Starlette app, same schema
def test_fuzzed_requests_never_get_a_server_error(
    case: schemathesis.Case, server: Server, mount: str
) -> None:
    # A Mount matches with `.*`, which stops at a newline (also one sent as %0A): such URLs get the host
    # app's 404, which is not ours to shape.
    if mount and any("\n" in unquote(str(value)) for value in (case.path_parameters or {}).values()):
        return
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    case.call_and_validate(base_url=server.url + mount, checks=checks)
