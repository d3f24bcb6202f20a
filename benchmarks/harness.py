"""Shared pieces: result records, rates, and worker processes started and stopped by process group.

Nothing here imports redisq or a peer: a system's child process (see peers/run.py) may run in an interpreter
that has only that system installed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redisq.core.embedded import EmbeddedServer


@dataclass
class Figure:
    system: str
    figure: str
    value: float | None  # jobs or ops per second, milliseconds for latency, a count for duplicates
    unit: str
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = ""  # single, bulk, drain1, drain2, p50, p99, dupes, raw, error: what the ratios compare
    variant: str = ""  # "" for the system's defaults; otherwise what was changed (tuned settings, API)
    setup: str = ""  # how the system ran for it: the worker command and settings, or the API called
    step: str = ""  # the step of peers/run.py that measured it (what `--skip` names)

    def row(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Figure:
        return cls(**row)


def server() -> EmbeddedServer:
    """One throwaway redis-server on a free loopback port (persistence off, dies with this process)."""
    from redisq.core.embedded import free_port, start_embedded

    return start_embedded(port=free_port())


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


@dataclass
class Group:
    """A started command: its process is the leader of a new process group (pgid = pid)."""

    argv: Sequence[str]
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pgid(self) -> int:
        return self.process.pid

    def tail(self, chars: int = 600) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return " ".join(text[-chars:].split())


def start_group(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path, pgid_file: Path | None
) -> Group:
    """Start `argv` in its own session; its output goes to `log`, never to a pipe that could fill up."""
    out: IO[bytes] = log.open("ab")
    try:
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        out.close()
    if pgid_file is not None:  # so that the parent can clean up if this process is killed
        with pgid_file.open("a") as f:
            f.write(f"{process.pid}\n")
    return Group(argv, process, log)


def kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_groups(groups: Sequence[Group], grace_s: float = 10.0) -> None:
    """SIGTERM every group, wait up to `grace_s` for the leaders, then SIGKILL whatever is left."""
    for g in groups:
        kill_group(g.pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for g in groups:
        with contextlib.suppress(subprocess.TimeoutExpired):
            g.process.wait(max(0.0, deadline - time.monotonic()))
    for g in groups:
        kill_group(g.pgid, signal.SIGKILL)  # the leader's children too (prefork pools, forked horses)
        if g.process.poll() is None:
            g.process.wait(10)
