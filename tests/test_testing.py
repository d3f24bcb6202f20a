"""redisq.testing as its users run it: a project of their own (tests/userproject: an app and its tests)
in a pytest run of its own, with the plugin enabled in its conftest.py, against a real server that the
plugin starts and stops."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent / "userproject"
CONFTEST = 'pytest_plugins = ["redisq.testing.pytest_plugin"]\n'
INI = """[pytest]
python_files = checks_*.py
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDISQ_", "REDIS_URL", "PYTEST_"))}
    env["PYTHONPATH"] = str(folder)
    env["SERVER_PID_FILE"] = str(folder / "server.pid")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("shop.py", "checks_shop.py"):
        shutil.copy(PROJECT / name, tmp_path / name)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "pytest.ini").write_text(INI)
    return tmp_path


def test_a_users_project_tests_its_tasks_with_the_plugin(project: Path) -> None:
    done = run_pytest(project)
    tests = len(re.findall(r"^(?:async )?def test_", (project / "checks_shop.py").read_text(), re.M))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{tests} passed" in done.stdout, done.stdout
    # The session's server was stopped when the session ended.
    pid = int((project / "server.pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def test_a_failing_user_test_fails(project: Path) -> None:
    """The plugin cannot hide a broken task: a drain that raises fails the user's test."""
    (project / "checks_broken.py").write_text(
        "import shop\n"
        "from redisq.testing import drain_sync\n\n"
        "def test_charge(redisq_isolate):\n"
        "    rq = redisq_isolate(shop.rq)\n"
        "    shop.charges.clear()\n"
        "    shop.charge.delay(5)\n"
        "    drain_sync(rq, raise_on_failure=True)\n"
    )
    done = run_pytest(project, "checks_broken.py")
    assert done.returncode == 1 and "1 failed" in done.stdout
    assert "ConnectionError: the gateway is down" in done.stdout
