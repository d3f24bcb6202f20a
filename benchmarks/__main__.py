"""Run every benchmark on one throwaway server and write a markdown table and a JSON file.

python -m benchmarks [--jobs 10000] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
from pathlib import Path

import redis

from .harness import Figure, server
from .raw import raw_figures
from .redisq_bench import drain_figure, enqueue_figures, latency_figure


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--cap", type=float, default=120.0, help="seconds before a measurement is abandoned")
    args = parser.parse_args()
    srv = server()
    assert srv.port is not None
    figures: list[Figure] = []
    try:
        steps = [
            lambda: raw_figures(srv.url, srv.port or 0, args.jobs),
            lambda: enqueue_figures(srv.url, args.jobs),
            lambda: [drain_figure(srv.url, args.jobs, "bench.noop_async", 10, args.cap)],
            lambda: [drain_figure(srv.url, args.jobs, "bench.noop_sync", 10, args.cap)],
            lambda: latency_figure(srv.url),
        ]
        for step in steps:
            redis.Redis.from_url(srv.url).flushdb()  # our own throwaway server: each step starts empty
            try:
                figures.extend(step())
            except Exception as exc:  # recorded, never fatal: the other figures still count
                figures.append(Figure("error", getattr(step, "__name__", "step"), None, "", note=repr(exc)))
    finally:
        srv.stop()
    write(figures, args.out, args.jobs)


def write(figures: list[Figure], out: Path, jobs: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"Run {when} on {machine}; {jobs} jobs per figure; `python -m benchmarks --jobs {jobs}`",
        "",
        "| system | figure | value | unit | note |",
        "|---|---|---:|---|---|",
    ]
    for f in figures:
        value = "-" if f.value is None else f"{f.value:,.2f}" if f.unit == "ms" else f"{f.value:,.0f}"
        note = "; ".join(filter(None, [f.note, *(f"{k}={v}" for k, v in f.extra.items())]))
        lines.append(f"| {f.system} | {f.figure} | {value} | {f.unit} | {note} |")
    table = "\n".join(lines) + "\n"
    (out / "latest.md").write_text(table)
    (out / "latest.json").write_text(
        json.dumps(
            {"when": when, "machine": machine, "jobs": jobs, "figures": [f.row() for f in figures]}, indent=2
        )
    )
    print(table)


if __name__ == "__main__":
    main()
