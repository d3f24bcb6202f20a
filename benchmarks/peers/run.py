"""One system's figures, in a child process of the harness (in the system's own interpreter if it has one).

python -m benchmarks.peers.run SYSTEM --url URL --jobs N --cap S --out FILE.jsonl --workdir DIR

Each figure is appended to FILE.jsonl as soon as it is known, so that whatever was measured survives if the
parent has to kill this process. The database is emptied before each figure. SIGTERM ends the run through
the `finally` blocks, which stop the workers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import signal
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from types import FrameType

import redis

from ..harness import Figure
from . import enqueue, measure
from .base import Adapter, Context, WorkerRun


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


class Run:
    def __init__(self, system: str, args: argparse.Namespace) -> None:
        self.system = system
        self.out: Path = args.out
        self.ctx = Context(args.url, args.jobs, args.cap, args.workdir, args.workdir / "pgids")
        self.duplicates: dict[str, int] = {}

    def emit(self, *figures: Figure) -> None:
        with self.out.open("a") as f:
            for fig in figures:
                f.write(json.dumps(fig.row()) + "\n")
                value = "-" if fig.value is None else f"{fig.value:,.2f}"
                note = f"  [{fig.note}]" if fig.note else ""
                print(f"  {fig.system}: {fig.figure}: {value} {fig.unit}{note}", file=sys.stderr, flush=True)

    def step(self, name: str, fn: Callable[[], list[Figure]]) -> None:
        r = redis.Redis.from_url(self.ctx.url)
        r.flushdb()  # our own throwaway server: every figure starts on an empty database
        r.close()
        started = time.monotonic()
        try:
            figures = fn()
        except Exception as exc:  # recorded, never fatal: the other figures still count
            traceback.print_exc(file=sys.stderr)
            figures = [Figure(self.system, name, None, "", note=f"failed: {exc!r}"[:400], kind="error")]
        for fig in figures:
            fig.extra.setdefault("seconds", round(time.monotonic() - started, 1))
        self.emit(*figures)

    def drain(self, adapter: Adapter, run: WorkerRun, kind: str) -> list[Figure]:
        fig, obs = measure.drain(adapter, run, self.ctx, kind)
        if obs is not None:
            self.duplicates[fig.figure] = obs.duplicates
        return [fig]

    def latency(self, adapter: Adapter, run: WorkerRun) -> list[Figure]:
        figures, obs = measure.latency(adapter, run, self.ctx)
        if obs is not None:
            self.duplicates[figures[0].figure] = obs.duplicates
        return figures

    def all(self, adapter: Adapter) -> None:
        ctx = self.ctx
        for mode in ("async", "sync"):
            self.step(f"single enqueue ({mode})", partial(enqueue.single_enqueue, adapter, ctx, mode))
        if adapter.bulk_api:
            for mode in ("async", "sync"):
                self.step(f"bulk enqueue ({mode})", partial(enqueue.bulk_enqueue, adapter, ctx, mode))
        else:
            self.emit(
                Figure(self.system, "bulk enqueue", None, "jobs/s", adapter.no_bulk_reason, kind="bulk")
            )
        for tuned in adapter.tuned_bulk():
            self.step(
                f"bulk enqueue ({tuned[0]})", partial(enqueue.bulk_enqueue, adapter, ctx, "sync", tuned)
            )
        self.step("drain, 1 process", partial(self.drain, adapter, adapter.workers(1), "drain1"))
        self.step("drain, 2 processes", partial(self.drain, adapter, adapter.workers(2), "drain2"))
        for run in adapter.tuned():
            self.step(f"drain, 1 process ({run.variant})", partial(self.drain, adapter, run, "drain1"))
        self.step("latency", partial(self.latency, adapter, adapter.workers(1)))
        for run in adapter.tuned():
            if run.latency:
                self.step(f"latency ({run.variant})", partial(self.latency, adapter, run))
        total = sum(self.duplicates.values()) if self.duplicates else None  # None: no run to count
        note = f"over {len(self.duplicates)} fault-free runs: " + ", ".join(
            f"{v} in '{k}'" for k, v in self.duplicates.items() if v
        )
        self.emit(
            Figure(self.system, "jobs run more than once", total, "runs", note.rstrip(": "), kind="dupes")
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers.run")
    parser.add_argument("system")
    parser.add_argument("--url", required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--cap", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    run = Run(args.system, args)
    adapter: Adapter | None = None
    error = ""
    try:
        adapter = importlib.import_module(f"benchmarks.peers.{args.system}").ADAPTER(args.url)
        importlib.import_module(f"benchmarks.peers.{args.system}_tasks")  # fails here if not installed
    except Exception as exc:
        error = f"cannot run: {exc!r}"[:400]
    dist = adapter.distribution if adapter is not None else args.system
    version = _version(dist) + (f" + taskiq-redis {_version('taskiq-redis')}" if dist == "taskiq" else "")
    info = {
        "system": args.system,
        "version": version,
        "python": platform.python_version(),
        "redis_py": _version("redis"),
        "interpreter": sys.executable,
    }
    with run.out.open("a") as f:
        f.write(json.dumps({"info": info}) + "\n")
    if adapter is None or error:
        run.emit(Figure(args.system, "import", None, "", note=error, kind="error"))
        return
    run.all(adapter)


if __name__ == "__main__":
    main()
