"""`redisq worker --processes N` and `--reload`: a parent process that runs the worker command in children.

Both re-run this process's own command line without `--processes`/`--reload`, so every option of the
worker reaches the children unchanged. The children get their own session: a Ctrl-C in the terminal
reaches the parent only, which passes each SIGTERM/SIGINT on once (a second one forces, as for a worker).

Restart policy of `--processes`: a child that exits non-zero while the supervisor is not stopping (it
crashed, or was killed) is started again, up to `RESTART_BUDGET` times within `RESTART_WINDOW_S`; past
that the supervisor stops the others and exits 1, for the process manager to see. A child that exits 0
on its own (a `--burst` worker that drained) is not restarted; once every child has, the supervisor exits 0.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import click

log = logging.getLogger("redisq.supervisor")

RESTART_BUDGET = 5
RESTART_WINDOW_S = 60.0
POLL_S = 0.1


def child_args(argv: Sequence[str]) -> list[str]:
    """The command line without the options that make this process a parent."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--processes":
            skip = True
        elif arg.startswith("--processes=") or arg == "--reload":
            continue
        else:
            out.append(arg)
    return out


def rerun_command(module: str) -> list[str]:
    """This process's command line as a child runs it: `python -m redisq.cli ...` (or `-m flask ...`)."""
    return [sys.executable, "-m", module, *child_args(sys.argv[1:])]


def _start(command: Sequence[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(list(command), start_new_session=True)


def _stopped_code(code: int) -> int:
    """A child that the SIGTERM reached before it had installed its handlers (still importing) died of the
    signal: it held no job yet, so for the supervisor it stopped cleanly."""
    return 0 if code == -signal.SIGTERM else code


def _signal_all(children: Sequence[subprocess.Popen[bytes] | None]) -> None:
    for child in children:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)


class Supervisor:
    def __init__(self, command: Sequence[str], processes: int) -> None:
        self.command = list(command)
        self.processes = processes
        self.children: list[subprocess.Popen[bytes] | None] = []
        self.stopping = False
        self.failed = False
        self.restarts: list[float] = []

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            log.warning("second stop request: passing it on, the workers give back their jobs now")
        else:
            log.info("stopping %d worker processes (%s)", self.processes, signal.Signals(signum).name)
        self.stopping = True
        _signal_all(self.children)

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self.children = [_start(self.command) for _ in range(self.processes)]
        log.info("supervising %d worker processes: %s", self.processes, [c.pid for c in self.children if c])
        codes: dict[int, int] = {}
        while len(codes) < self.processes:
            time.sleep(POLL_S)
            for i, child in enumerate(self.children):
                if child is None or i in codes or (code := child.poll()) is None:
                    continue
                if self.stopping or code == 0:
                    codes[i] = _stopped_code(code) if self.stopping else code
                elif self._may_restart():
                    log.error("worker process %d exited with %d: starting another", child.pid, code)
                    self.children[i] = _start(self.command)
                else:
                    log.error(
                        "worker process %d exited with %d; too many restarts: stopping", child.pid, code
                    )
                    codes[i], self.failed, self.stopping = code, True, True
                    _signal_all(self.children)
        return 1 if self.failed or any(codes.values()) else 0

    def _may_restart(self) -> bool:
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S]
        if len(self.restarts) >= RESTART_BUDGET:
            return False
        self.restarts.append(now)
        return True


def run_reloading(command: Sequence[str], root: Path) -> int:
    """Run the worker command, and run it anew whenever a .py file under `root` changes (development)."""
    try:
        import watchfiles
    except ModuleNotFoundError:
        raise SystemExit("redisq: --reload needs watchfiles: pip install 'redisq[reload]'") from None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    child = _start(command)
    log.info("watching %s for .py changes (worker process %d)", root, child.pid)
    changes_seen = watchfiles.watch(
        root,
        watch_filter=watchfiles.PythonFilter(),
        stop_event=stop,
        debounce=400,
        rust_timeout=300,
        yield_on_timeout=True,
        raise_interrupt=False,
    )
    for changes in changes_seen:
        if stop.is_set():
            break
        if not changes:
            continue
        names = sorted({Path(path).name for _, path in changes})
        log.info("%s changed: restarting the worker", ", ".join(names))
        _stop(child)
        child = _start(command)
        log.info("worker process %d started", child.pid)
    return _stop(child)


def _stop(child: subprocess.Popen[bytes]) -> int:
    if child.poll() is not None:
        return child.returncode
    child.send_signal(signal.SIGTERM)
    return _stopped_code(child.wait())


def supervise(command: Sequence[str], processes: int, reload: bool) -> int:
    """`--reload` (which re-runs the command with `--processes` kept), else `--processes N`."""
    return run_reloading(command, Path.cwd()) if reload else Supervisor(command, processes).run()


# The options of `redisq worker` and `flask redisq worker` alike.
processes_option = click.option(
    "--processes",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Worker processes under one supervisor (SIGTERM/SIGINT reach each; a crashed one is restarted).",
)
reload_option = click.option(
    "--reload", is_flag=True, help="Development: restart when a .py file under the cwd changes."
)
