"""Every code block of the README runs here (the JavaScript one in tests/test_dashboard_browser.py), so
the README cannot promise what the code does not do (issue 11: its FastAPI snippet could not run).

The blocks are written into a project folder as the README names them (`myapp/jobs.py`, ...), their shell
lines run as a user would type them (the URL in them pointed at the suite's Redis, the commands from this
virtualenv), and the Python ones run with top-level `await`, as in `python -m asyncio`.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib
import inspect
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from redisq import Job, JobState, RedisQ
from redisq.core import acl
from redisq.core.embedded import free_port, start_embedded

from . import readmekit
from .asgikit import lifespan
from .conftest import running_worker

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # `redisq` and `flask` as installed with this interpreter
KNOWN = {
    "file",
    "shell",
    "python",
    "acl",
    "browser",
    "demo",
    "tests",
    "urls",
    "toml",
    "pytest",
    "django",
}  # urls: test_readme_production.py; toml: test_readme_cli.py; pytest: a test file of the user's own, below;
# django: a file of the Django project that tests/test_readme_django.py builds
OWN_MODULES = ("myapp", "reports_app")
SECTIONS = {
    "dedupe",
    "workflows",
    "limits",
    "schedules",
    "abort",
    "production",
    "cli",
    "autoscale",  # tests/test_readme_autoscale.py
    "access",  # tests/test_readme_access.py
    "metrics",  # run by tests/test_readme_metrics.py
    "otel",  # test_readme_observability.py
    "logs",
    "django",  # tests/test_readme_django.py
}  # README sections whose python and shell blocks a test runs


def test_every_code_block_says_how_it_is_run() -> None:
    unmarked = [(b.line, b.lang) for b in readmekit.blocks() if b.kind not in KNOWN]
    assert unmarked == [], "README code blocks without a <!-- test: ... --> marker (line, language)"
    assert len(readmekit.of_kind("browser")) == 1  # run by tests/test_dashboard_browser.py
    # A section's blocks are run by the test named for it below: a section no test knows would not run.
    assert {b.arg for b in readmekit.blocks() if b.kind in ("python", "shell")} <= {"", *SECTIONS}


def test_the_two_commands_are_what_ci_and_the_demo_test_run() -> None:
    [demo] = readmekit.of_kind("demo")
    [tests] = readmekit.of_kind("tests")
    assert demo.lines == [
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[fastapi]' && .venv/bin/redisq demo"
    ]
    # tests/test_cli.py runs `redisq demo`; .ci/run runs the tests line, picked out of the README as here:
    assert tests.lines == ["python3 -m venv .venv && .venv/bin/pip install -q nox && .venv/bin/nox"]
    assert "grep -m1 '^python3 '" in (ROOT / ".ci" / "run").read_text()


# ---- the project the README builds ----------------------------------------------------------------------


@dataclass
class Project:
    folder: Path
    url: str
    prefix: str

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REDISQ_", "REDIS_URL", "FLASK_"))}
        env.update(
            REDISQ_URL=self.url,
            REDISQ_PREFIX=self.prefix,
            ADMIN_TOKEN="t0ken",
            PYTHONPATH=str(self.folder),
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        )
        return env

    def command(self, line: str) -> list[str]:
        """A README shell line as argv: `VAR=value` words go to the environment (the URL is the suite's)."""
        words = shlex.split(line)
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words.pop(0)  # REDISQ_URL=redis://localhost:6379/0: this test's server stands in for it
        return words

    def run(self, line: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(line), cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"{line!r} failed:\n{done.stdout}\n{done.stderr}"
        return done

    @contextlib.contextmanager
    def running(self, line: str) -> Iterator[subprocess.Popen[str]]:
        """A long-running line (a worker): stopped with SIGTERM at the end, which must drain and exit 0."""
        process = subprocess.Popen(
            self.command(line),
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Read as it comes: a worker logs a line per job (issue 14), more than a pipe holds unread.
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
        reader.start()
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=40)
            reader.join(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
            output = "".join(lines)
            assert process.returncode == 0, f"{line!r} exited {process.returncode}:\n{output}"


@pytest.fixture
def project(
    tmp_path: Path, redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Project]:
    for block in readmekit.of_kind("file"):
        path = tmp_path / block.arg
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.code)
    here = Project(tmp_path, redis_url, prefix)
    for name, value in here.env.items():
        if name.startswith(("REDISQ_", "ADMIN_")):
            monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield here
    for name in [m for m in sys.modules if m.split(".")[0] in OWN_MODULES]:
        del sys.modules[name]


async def run_python(code: str) -> tuple[dict[str, Any], str]:
    """Run a README block as `python -m asyncio` would (top-level await); its namespace and its output."""
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    compiled = compile(code, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = eval(compiled, namespace)
        if inspect.iscoroutine(result):
            await result
    return namespace, out.getvalue()


@contextlib.asynccontextmanager
async def imported(module: str) -> AsyncIterator[Any]:
    """A README module, its client (`rq`) closed at the end."""
    found = importlib.import_module(module)
    try:
        yield found
    finally:
        await found.rq.aclose()


def _wait(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


# ---- Use, Inspect and operate ----------------------------------------------------------------------------


async def test_use_the_worker_commands_and_inspect(project: Project) -> None:
    worker, stats, requeue = readmekit.of_kind("shell")[0].lines
    use, inspect_block = readmekit.of_kind("python")
    async with imported("myapp.jobs") as jobs:
        with project.running(worker):
            names, out = await run_python(use.code)
            assert out.splitlines() == ["sent to user 42", str(JobState.SCHEDULED)]
            assert len(names["jobs"]) == 1000
            assert (await names["later"].info()).state is JobState.CANCELLED
            rq: RedisQ = jobs.rq
            _wait(lambda: rq.stats_sync("emails").counters["succeeded"] == 1001)
            _wait(lambda: rq.stats_sync("reports").counters["succeeded"] == 1)
            table = project.run(stats).stdout
            assert re.search(r"emails\s.*1001", table), table
            assert project.run(requeue).stdout == "requeued 0 jobs\n"

        names, _ = await run_python(inspect_block.code)
        assert names["stats"].queue == "emails" and names["stats"].counters["succeeded"] == 1001
        assert names["report"].ok, names["report"].reasons  # no job waits, though no worker runs now
        assert names["dead"] == [] and len(names["many"]) == 2 and len(names["minutes"]) == 60
        assert (await rq.stats("emails")).queued == 0  # the promoted job was deleted


async def test_throttle_and_debounce(project: Project) -> None:
    async with imported("myapp.jobs"):
        names, out = await run_python(readmekit.of_kind("python", "dedupe")[0].code)
    assert out.splitlines() == ["['cancelled', 'cancelled', 'scheduled']", "True False"]
    assert names["edits"][-1].created and names["again"].id == names["first"].id


async def test_workflows(project: Project) -> None:
    async with imported("myapp.orders"):
        names, out = await run_python(readmekit.of_kind("python", "workflows")[0].code)
    assert out.splitlines() == [
        "True ['queued', 'waiting']",
        "receipt for order 7: 700",
        "cat.png@64, cat.png@128",
        "True",
    ]
    assert [job.queue for job in names["order"].jobs] == ["default", "emails"]


# ---- Abort, retry control, hooks, burst (issue 12) --------------------------------------------------------


async def test_abort_retry_control_hooks_and_a_burst_worker(project: Project) -> None:
    [burst] = readmekit.of_kind("shell", "abort")[0].lines
    names, out = await run_python(readmekit.of_kind("python", "abort")[0].code)
    assert out.splitlines() == ["True", str(JobState.CANCELLED)]
    async with imported("myapp.pipeline") as pipeline:
        export = await pipeline.wait_for_export.enqueue("e1")
        async with running_worker(pipeline.rq):  # Retry(in_s=0.2) twice: a burst worker would leave it
            assert await export.result(timeout=5) == "export e1 ready"
        assert (await export.info()).attempts == 3
        found = await pipeline.sync_customer.enqueue(7)
        crunching = await pipeline.crunch.enqueue(3000)  # 30 s unless aborted
        done = await asyncio.create_subprocess_exec(
            *project.command(burst), cwd=project.folder, env=project.env, stderr=subprocess.PIPE
        )
        try:
            await wait_for_state(crunching, JobState.ACTIVE)
            assert await crunching.abort() is True
            _, err = await asyncio.wait_for(done.communicate(), 30)
        finally:
            if done.returncode is None:
                done.kill()
                await done.wait()
        log = err.decode()
        assert done.returncode == 0, log
        assert await found.result(timeout=1) == "customer 7"  # from the pool its start hook opened
        assert (await crunching.info()).state is JobState.ABORTED
        missing = await names["missing"].info()
        assert missing.state is JobState.DEAD and missing.attempts == 1
        assert missing.error is not None and "give_up_on" in missing.error.note
        assert "myapp.pipeline.sync_customer succeeded in" in log  # the Timing middleware


async def wait_for_state(job: Job, state: JobState, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while (await job.info()).state is not state:
        assert time.monotonic() < deadline, f"{job.id} not {state.value} within {within_s}s"
        await asyncio.sleep(0.05)


async def test_limits(project: Project) -> None:
    [worker] = readmekit.of_kind("shell", "limits")[0].lines
    [use] = readmekit.of_kind("python", "limits")
    async with imported("myapp.partner") as partner:
        rq: RedisQ = partner.rq
        with project.running(worker):
            began = time.monotonic()
            names, out = await run_python(use.code)
            assert out == "1\n"
            waiting: list[int] = []
            while (await rq.stats("sync")).counters["succeeded"] < 7:  # 6 syncs and the order
                waiting.append((await rq.stats("sync")).limited)
                assert time.monotonic() - began < 20, waiting
                await asyncio.sleep(0.05)
        # Customer 7's five jobs ran two at a time (3 rounds of 0.5 s); without its limit, 2 rounds.
        assert time.monotonic() - began >= 1.4
        assert max(waiting) == 3  # the three beyond its two places waited, set aside
        assert len(names["jobs"]) == 6


# ---- FastAPI ---------------------------------------------------------------------------------------------


async def test_the_fastapi_app(project: Project) -> None:
    async with imported("myapp.web") as web:
        app = web.app
        async with (
            lifespan(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client,
        ):
            signup = await client.post("/signup", params={"user_id": 3})
            assert signup.status_code == 202
            assert await web.rq.job(signup.json()["job"]).result(timeout=10) is None
            order = await client.post("/orders", json={"id": 5, "total": 9.5})
            assert (order.status_code, order.json()) == (200, {"id": 5, "total": 9.5})
            for _ in range(100):
                if (await web.rq.stats("emails")).counters["succeeded"] == 2:
                    break
                await asyncio.sleep(0.05)
            assert (await web.rq.stats("emails")).counters["succeeded"] == 2  # the receipt too
            assert (await client.get("/health")).json() == {"status": "ready", "failing": []}
            assert (await client.get("/health/queues")).json() == {"status": "ok", "failing": []}
            admin = await client.get("/queues/", headers={"authorization": "Bearer t0ken"})
            assert admin.status_code == 200 and "emails" in [q["queue"] for q in admin.json()["queues"]]
            assert (await client.get("/queues/")).status_code == 401


# ---- Flask -----------------------------------------------------------------------------------------------


async def test_the_flask_app_and_its_commands(project: Project) -> None:
    worker, stats, requeue = readmekit.of_kind("shell")[1].lines
    reports_app = importlib.import_module("reports_app")
    app = reports_app.create_app()
    client = app.test_client()
    rq: RedisQ = app.extensions["redisq"].client
    try:
        ordered = client.post("/reports/3")
        assert (ordered.status_code, ordered.get_json()) == (202, {"report": 3})
        assert rq.stats_sync("reports").queued == 1
        assert client.get("/queues/", headers={"Authorization": "Bearer t0ken"}).status_code == 200
        assert client.get("/queues/").status_code == 401
        with project.running(worker):
            _wait(lambda: rq.stats_sync("reports").counters["succeeded"] == 1)
            assert re.search(r"reports\s.*\b1\b", project.run(stats).stdout)
            assert project.run(requeue).stdout == "requeued 0 jobs\n"
        assert client.get("/health").get_json() == {"status": "ready", "failing": []}
    finally:
        rq.close()


# ---- Testing your tasks -----------------------------------------------------------------------------------


# pytest-asyncio (installed here) warns at start when its loop scope is not configured.
PYTEST = (
    "-m",
    "pytest",
    "-q",
    "-p",
    "no:cacheprovider",
    "-W",
    "error",
    "-o",
    "asyncio_default_fixture_loop_scope=function",
)


def test_the_users_own_tests_pass_with_the_plugin(project: Project) -> None:
    """The "Testing your tasks" blocks are written where they say and run by pytest, as the user would,
    with the plugin's own server (none of this suite's REDISQ_* settings reach it)."""
    blocks = readmekit.of_kind("pytest")
    for block in blocks:
        (project.folder / block.arg).parent.mkdir(parents=True, exist_ok=True)
        (project.folder / block.arg).write_text(block.code)
    tests = sum(len(re.findall(r"^def test_", b.code, re.M)) for b in blocks)
    assert tests >= 5
    env = {k: v for k, v in project.env.items() if not k.startswith(("REDISQ_", "PYTEST_"))}
    done = subprocess.run(
        [sys.executable, *PYTEST, "tests"],
        cwd=project.folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert done.returncode == 0 and f"{tests} passed" in done.stdout, done.stdout + done.stderr


# ---- Production Redis -------------------------------------------------------------------------------------


async def test_the_acl_rule_is_the_one_redisq_checks_and_it_is_enough(prefix: str) -> None:
    [block] = readmekit.of_kind("acl")
    assert block.lines == [acl.acl_rule(user="app", password="secret")]
    server = start_embedded(port=free_port())
    try:
        admin = redis.Redis.from_url(server.url)
        rule = block.lines[0].replace("redisq:*", f"{prefix}:*")  # this test's prefix
        admin.execute_command(*shlex.split(rule))
        admin.close()
        rq = RedisQ(f"redis://app:secret@127.0.0.1:{server.port}/0", prefix=prefix)

        @rq.task(queue="acl")
        async def noop() -> None: ...

        try:
            await noop.enqueue()  # checks the permissions of a client first
            assert (await rq.check_server()).maxmemory_policy == "noeviction"
            assert (await rq.stats("acl")).queued == 1
        finally:
            await rq.aclose()
    finally:
        server.stop()


def test_the_readme_images_are_in_the_repository() -> None:
    text = readmekit.README.read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) >= 6
    for path in images:
        assert (readmekit.README.parent / path).is_file(), path
