"""Measure redisq and its peers on one throwaway redis-server; write a markdown table and a JSON file.

python -m benchmarks [--systems redisq,arq,...] [--jobs 10000] [--drain-jobs 100000] [--runs 3]
                     [--cap 20] [--large-cap 60] [--budget 45] [--out benchmarks/results]
                     [--python arq=/path/to/python]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import redis

from . import ceiling
from .child import Limits, interpreter, run_system
from .harness import Figure, server
from .peers import SYSTEMS
from .raw import raw_limits
from .report import Header, write
from .runs import CAPPED, capped_steps, combine, fit_later_runs, step_seconds

MIN_SYSTEM_S = 60.0  # a system's run is not started with less of the budget left


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--systems", default=",".join(SYSTEMS), help=f"comma-separated, of: {', '.join(SYSTEMS)}"
    )
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs per figure (latency: always 200)")
    parser.add_argument(
        "--drain-jobs", type=int, default=100_000, help="jobs of the large drain, 1 process (0: none)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of every figure; the report gives medians")
    parser.add_argument("--cap", type=float, default=20.0, help="seconds before one measurement is stopped")
    parser.add_argument("--large-cap", type=float, default=60.0, help="the same for the large drain")
    parser.add_argument(
        "--budget",
        type=float,
        default=45.0,
        help="minutes for the whole run: a system's run not started by then is not run (a row says so)",
    )
    parser.add_argument(
        "--system-cap",
        type=float,
        default=None,
        help="seconds for all of one system's figures in one run (default 12 x cap)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="SYSTEM=PATH",
        help="interpreter for a system with an environment of its own (also BENCH_PYTHON_<SYSTEM>)",
    )
    args = parser.parse_args()
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in args.systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown systems {unknown}; known: {', '.join(SYSTEMS)}")
    args.python = dict(p.split("=", 1) for p in args.python)
    return args


def commit() -> str:
    """The commit measured, and whether redisq/ had changes on top of it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "redisq"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown commit"
    if head.returncode != 0:
        return "unknown commit"
    return head.stdout.strip() + (" + uncommitted changes to redisq/" if dirty.stdout.strip() else "")


def main() -> None:
    args = parse()
    started = time.monotonic()
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    runs: list[list[Figure]] = []
    versions: dict[str, dict[str, object]] = {}
    limits = Limits(args.jobs, args.drain_jobs, args.cap, args.large_cap, args.system_cap or 20 * args.cap)
    deadline = started + 60 * args.budget
    skip: dict[str, set[str]] = {system: set() for system in args.systems}
    left_out: dict[str, dict[str, str]] = {}
    seconds: dict[str, dict[str, float]] = {}  # per system and step, in the last run
    srv = server()
    try:
        assert srv.port is not None
        url = srv.url
        print(f"redis-server on {url}", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="redisq-bench-") as tmp:
            for number in range(1, args.runs + 1):
                print(f"run {number} of {args.runs}:", file=sys.stderr, flush=True)
                figures = one_run(url, srv.port, args, limits, Path(tmp), skip, versions, deadline)
                runs.append(figures)
                for system in args.systems:
                    mine = [f for f in figures if f.system == system]
                    for step in capped_steps(mine) - skip[system]:
                        left_out.setdefault(system, {})[step] = CAPPED
                    skip[system] |= capped_steps(mine)
                    if step_seconds(mine):
                        seconds[system] = step_seconds(mine)
                fit_later_runs(seconds, skip, left_out, args.runs - number, deadline - time.monotonic())
    finally:
        srv.stop()
    header = Header(
        when=when,
        machine=f"{platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}",
        jobs=args.jobs,
        drain_jobs=args.drain_jobs,
        runs=args.runs,
        command=" ".join(["python -m benchmarks", shlex.join(sys.argv[1:])]).strip(),
        commit=commit(),
        seconds=time.monotonic() - started,
        versions=versions,
    )
    print(write(args.out, header, args.systems, combine(runs, left_out)))


def one_run(
    url: str,
    port: int,
    args: argparse.Namespace,
    limits: Limits,
    tmp: Path,
    skip: dict[str, set[str]],
    versions: dict[str, dict[str, object]],
    deadline: float,
) -> list[Figure]:
    """Every figure once: the raw limit, the body-alone ceiling, then each system in its child process.
    Steps in `skip` are not measured. A system's run ends by `deadline` (the budget): stopped there, or
    not started past it, with a row that says so."""
    figures: list[Figure] = []
    redis.Redis.from_url(url).flushdb()
    try:
        figures += raw_limits(url, port, args.jobs)
    except Exception as exc:  # recorded, never fatal
        figures.append(Figure("raw redis-py", "raw limit", None, "", note=f"failed: {exc!r}", kind="error"))
    redis.Redis.from_url(url).flushdb()
    figures.append(ceiling.in_child(url, args.jobs, limits.cap_s))
    for system in args.systems:
        left = deadline - time.monotonic()
        if left < MIN_SYSTEM_S:
            note = f"not run: the --budget of {args.budget:.0f} min was spent"
            figures.append(Figure(system, "run", None, "", note=note, kind="error"))
            continue
        print(f"{system}:", file=sys.stderr, flush=True)
        redis.Redis.from_url(url).flushdb()
        t0 = time.monotonic()
        bounded = replace(limits, timeout_s=min(limits.timeout_s, left))
        python = interpreter(system, args.python)
        result = run_system(system, python, url, bounded, tmp, sorted(skip[system]))
        seconds = round(time.monotonic() - t0, 1)
        previous = versions.get(system, {}).get("seconds_per_run", [])
        assert isinstance(previous, list)
        versions[system] = {**result.info, "seconds_per_run": [*previous, seconds]}
        figures += result.figures
    return figures


if __name__ == "__main__":
    main()
