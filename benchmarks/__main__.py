"""Measure redisq and its peers on one throwaway redis-server; write a markdown table and a JSON file.

python -m benchmarks [--systems redisq,arq,...] [--jobs 10000] [--cap 60] [--out benchmarks/results]
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
from pathlib import Path

import redis

from .child import interpreter, run_system
from .harness import Figure, server
from .peers import SYSTEMS
from .raw import raw_limits
from .report import Header, write


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--systems", default=",".join(SYSTEMS), help=f"comma-separated, of: {', '.join(SYSTEMS)}"
    )
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs per figure (latency: always 200)")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds before one measurement is stopped")
    parser.add_argument(
        "--system-cap",
        type=float,
        default=None,
        help="seconds for all of one system's figures (default 6 x cap)",
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
    figures: list[Figure] = []
    versions: dict[str, dict[str, object]] = {}
    srv = server()
    try:
        assert srv.port is not None
        url = srv.url
        print(f"redis-server on {url}", file=sys.stderr, flush=True)
        redis.Redis.from_url(url).flushdb()
        try:
            figures += raw_limits(url, srv.port, args.jobs)
        except Exception as exc:  # recorded, never fatal
            figures.append(
                Figure("raw redis-py", "raw limit", None, "", note=f"failed: {exc!r}", kind="error")
            )
        with tempfile.TemporaryDirectory(prefix="redisq-bench-") as tmp:
            for system in args.systems:
                print(f"{system}:", file=sys.stderr, flush=True)
                redis.Redis.from_url(url).flushdb()
                t0 = time.monotonic()
                result = run_system(
                    system,
                    interpreter(system, args.python),
                    url,
                    args.jobs,
                    args.cap,
                    args.system_cap or 6 * args.cap,
                    Path(tmp),
                )
                versions[system] = {**result.info, "seconds": round(time.monotonic() - t0, 1)}
                figures += result.figures
    finally:
        srv.stop()
    header = Header(
        when=when,
        machine=f"{platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}",
        jobs=args.jobs,
        command=" ".join(["python -m benchmarks", shlex.join(sys.argv[1:])]).strip(),
        commit=commit(),
        seconds=time.monotonic() - started,
        versions=versions,
    )
    print(write(args.out, header, args.systems, figures))


if __name__ == "__main__":
    main()
