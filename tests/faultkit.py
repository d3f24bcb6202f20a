"""Helpers for the fault-injection tests: worker processes, bounded waits, a restartable Redis."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import redis

from redisq.core.embedded import EmbeddedServer, find_server_binary, free_port

ROOT = Path(__file__).resolve().parent.parent  # the repository: workers import `tests.faultapp` from here
APP = "tests.faultapp:app"
T = TypeVar("T")


def _die_with_parent() -> None:  # in the child between fork and exec: no orphan if pytest is killed
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class WorkerProcess:
    """One `redisq worker` process; its stdout and stderr go to a log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self, tail: int = 6000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-tail:]
        return ""

    def send(self, sig: signal.Signals) -> None:
        if self.alive():
            os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL and reap."""
        self.send(signal.SIGKILL)
        self.proc.wait(10)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"worker {self.name} (pid {self.pid}) did not exit within {timeout}s; its log:\n{self.log()}"
            ) from None


@dataclass
class Workers:
    """Starts worker processes for one test, and stops every one of them at the end."""

    url: str
    prefix: str
    queue: str
    log_dir: Path
    started: list[WorkerProcess] = field(default_factory=list)
    app: str = APP  # `module:attribute` of the RedisQ the workers run

    def start(
        self,
        *,
        concurrency: int = 10,
        lease: float = 1.0,
        grace: float = 10.0,
        env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        name = f"w{len(self.started) + 1}"
        log_path = self.log_dir / f"worker-{name}.log"
        child_env = {k: v for k, v in os.environ.items() if not k.startswith(("REDISQ_", "REDIS_URL"))}
        child_env.update(
            REDISQ_URL=self.url,
            FAULT_PREFIX=self.prefix,
            FAULT_QUEUE=self.queue,
            PYTHONUNBUFFERED="1",
            **(env or {}),
        )
        command = [
            sys.executable,
            "-c",
            "from redisq.cli import run; run()",
            "worker",
            self.app,
            "--queues",
            self.queue,
            "--concurrency",
            str(concurrency),
            "--lease",
            str(lease),
            "--grace",
            str(grace),
        ]
        with log_path.open("wb") as out:
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        worker = WorkerProcess(name, proc, log_path)
        self.started.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(f"----- worker {w.name} (pid {w.pid}) -----\n{w.log()}" for w in self.started)

    def stop_all(self, timeout: float = 10.0) -> None:
        """Cleanup: SIGTERM every live worker at once (so that none takes the jobs another gives back),
        then SIGKILL those still running after `timeout`."""
        for w in self.started:
            w.send(signal.SIGTERM)
            w.send(signal.SIGCONT)  # a worker left paused by a failed test
        deadline = time.monotonic() + timeout
        for w in self.started:
            try:
                w.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.kill()


def wait_until(
    check: Callable[[], T],
    timeout: float,
    what: str,
    logs: Callable[[], str] = lambda: "",
    every: float = 0.05,
) -> T:
    """Poll `check` until it returns a truthy value, which is returned; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    error: Exception | None = None
    while True:
        try:
            last = check()
            error = None
        except (redis.exceptions.ConnectionError, ConnectionError) as exc:  # Redis being restarted
            error = exc
        if last and error is None:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what} (last value: {last!r}, error: {error!r})\n"
                f"{logs()}"
            )
        time.sleep(every)


def scan_prefix(client: redis.Redis, prefix: str) -> list[bytes]:
    """Every key under `<prefix>:`, by SCAN (never KEYS)."""
    keys: list[bytes] = []
    cursor = 0
    while True:
        cursor, batch = client.scan(cursor, match=f"{prefix}:*", count=1000)
        keys.extend(batch)
        if cursor == 0:
            return keys


def drop_prefix(client: redis.Redis, prefix: str) -> None:
    """Delete every key under `<prefix>:` (a test's own), unless Redis is gone (a fault test's end)."""
    with contextlib.suppress(redis.exceptions.ConnectionError):
        keys = scan_prefix(client, prefix)
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start : start + 1000])


def memory_of(client: redis.Redis, keys: list[bytes]) -> int:
    """MEMORY USAGE summed over `keys` (keys that expired meanwhile count 0)."""
    total = 0
    for start in range(0, len(keys), 1000):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + 1000]:
            pipe.memory_usage(key, samples=0)
        total += sum(int(n or 0) for n in pipe.execute())
    return total


class RestartableRedis:
    """A redis-server with AOF (fsync always) on a fixed port, that can be killed and started again on the
    same port and directory, keeping its data."""

    def __init__(self) -> None:
        binary = find_server_binary()
        if binary is None:
            raise RuntimeError("no redis-server binary")
        self.binary = binary
        self.port = free_port()
        self.args = ("--appendonly", "yes", "--appendfsync", "always")
        self.server = EmbeddedServer(binary=binary, port=self.port, extra_args=self.args).start()
        self.workdir = self.server.workdir

    @property
    def url(self) -> str:
        return self.server.url

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Kill the server process (not `EmbeddedServer.stop()`, which also deletes its directory)."""
        process = self.server.process
        assert process is not None
        process.send_signal(sig)
        process.wait(10)

    def restart(self) -> None:
        self.server = EmbeddedServer(
            binary=self.binary, port=self.port, extra_args=self.args, workdir=self.workdir
        ).start()

    def stop(self) -> None:
        self.server.stop()  # kills it if it runs, and removes the directory


@contextlib.contextmanager
def restartable_redis() -> Iterator[RestartableRedis]:
    server = RestartableRedis()
    try:
        yield server
    finally:
        server.stop()
