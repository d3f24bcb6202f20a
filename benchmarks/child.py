"""Run one system's figures in a child process (peers/run.py), bounded in time, and read what it measured."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .harness import Figure, kill_group
from .peers.base import REPO


@dataclass
class SystemResult:
    system: str
    info: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0


def interpreter(system: str, overrides: dict[str, str]) -> str:
    """`--python SYSTEM=PATH`, else BENCH_PYTHON_<SYSTEM> (BULLMQ_NODE for bullmq-node), else this one."""
    name = system.upper().replace("-", "_")
    return overrides.get(system) or os.environ.get(f"BENCH_PYTHON_{name}") or sys.executable


@dataclass(frozen=True)
class Limits:
    jobs: int  # per figure
    drain_jobs: int  # the large drain's (0: none)
    cap_s: float  # one measurement
    large_cap_s: float  # the large drain
    timeout_s: float  # all of one system's figures in one run


def run_system(
    system: str, python: str, url: str, limits: Limits, workdir: Path, skip: Iterable[str] = ()
) -> SystemResult:
    sysdir = workdir / system
    sysdir.mkdir(parents=True, exist_ok=True)
    out = sysdir / "figures.jsonl"
    out.unlink(missing_ok=True)
    timeout_s = limits.timeout_s
    argv = [python, "-m", "benchmarks.peers.run", system, "--url", url, "--jobs", str(limits.jobs)]
    argv += ["--cap", str(limits.cap_s), "--out", str(out), "--workdir", str(sysdir)]
    argv += ["--drain-jobs", str(limits.drain_jobs), "--large-cap", str(limits.large_cap_s)]
    for step in skip:
        argv += ["--skip", step]
    path = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}
    result = SystemResult(system)
    note = ""
    try:
        child = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL)
    except OSError as exc:
        result.figures.append(
            Figure(system, "start", None, "", note=f"cannot start {python}: {exc!r}", kind="error")
        )
        return result
    try:
        code = child.wait(timeout_s)
        if code != 0:
            note = f"child process exited with {code}"
    except subprocess.TimeoutExpired:
        note = f"capped: the whole system run was stopped after {timeout_s:.0f}s"
    finally:
        if child.poll() is None:  # SIGTERM: its `finally` blocks stop the workers; then SIGKILL
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if note:  # the child may not have cleaned up: kill every worker group it started
            _kill_listed(sysdir / "pgids")
    _read(out, result)
    if note:
        result.figures.append(Figure(system, "run", None, "", note=note, kind="error"))
    return result


def _kill_listed(pgids: Path) -> None:
    try:
        listed = pgids.read_text().split()
    except OSError:
        return
    for pgid in listed:
        kill_group(int(pgid), signal.SIGKILL)


def _read(out: Path, result: SystemResult) -> None:
    try:
        lines = out.read_text().splitlines()
    except OSError:
        return
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        if "info" in row:
            result.info = row["info"]
        else:
            result.figures.append(Figure.from_row(row))
