"""One system's figures, in a child process of the harness (in the system's own interpreter if it has one).

python -m benchmarks.peers.run SYSTEM --url URL --jobs N --cap S --out FILE.jsonl --workdir DIR
                               [--drain-jobs M] [--skip STEP]...

Each figure is appended to FILE.jsonl as soon as it is known, so that whatever was measured survives if the
parent has to kill this process. The database is emptied before each figure. SIGTERM ends the run through
the `finally` blocks, which stop the workers. `--skip` names steps not to measure again (the parent passes
those capped in an earlier run: a capped figure is already known not to finish, and repeating it is the
slowest part of a run).
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
from dataclasses import replace
from functools import partial
from importlib import metadata
from pathlib import Path
from types import FrameType

import redis

from ..harness import Figure
from . import enqueue, measure
from .base import Adapter, Context, WorkerRun, module

LARGE_MARGIN = 1.5  # the large drain runs if the small drain's rate says it ends within this x its cap


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
        self.drain_jobs: int = args.drain_jobs
        self.large_cap_s: float = args.large_cap
        self.skip: set[str] = set(args.skip)
        self.duplicates: dict[str, int] = {}
        self.rates: dict[str, float] = {}  # drain rates by label, to foresee a large drain that cannot finish

    def emit(self, *figures: Figure) -> None:
        with self.out.open("a") as f:
            for fig in figures:
                f.write(json.dumps(fig.row()) + "\n")
                value = "-" if fig.value is None else f"{fig.value:,.2f}"
                note = f"  [{fig.note}]" if fig.note else ""
                print(f"  {fig.system}: {fig.figure}: {value} {fig.unit}{note}", file=sys.stderr, flush=True)

    def step(self, name: str, fn: Callable[[], list[Figure]]) -> None:
        if name in self.skip:
            return
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
            fig.step = name
        self.emit(*figures)

    def drain(
        self, adapter: Adapter, run: WorkerRun, kind: str, label: str, n: int = 0, cap_s: float = 0.0
    ) -> list[Figure]:
        if kind.startswith("io"):
            run = replace(run, env={**run.env, "BENCH_BODY": "io"})
        ctx = replace(self.ctx, cap_s=cap_s) if cap_s else self.ctx
        fig, obs = measure.drain(adapter, run, ctx, kind, label, n or self.ctx.jobs)
        if obs is not None:
            self.duplicates[fig.figure] = obs.duplicates
        if fig.value is not None:
            self.rates[label] = fig.value
        return [fig]

    def large_drain(self, adapter: Adapter, kind: str, label: str, small: str) -> list[Figure]:
        """`--drain-jobs` jobs, 1 process, defaults, within `--large-cap`. Not run when the `--jobs` drain's
        rate says it would take more than 1.5 times that cap (a row says so, with no value): a large drain
        can run faster than a small one (BullMQ on Node's did in issue 15), hence the margin."""
        n, cap_s = self.drain_jobs, self.large_cap_s
        known = self.rates.get(small)
        if known is not None and n / known > LARGE_MARGIN * cap_s:
            note = (
                f"not run: at the {self.ctx.jobs:,}-job drain's {known:,.0f} jobs/s, {n:,} jobs need "
                f"{n / known:,.0f}s, past {LARGE_MARGIN} x the {cap_s:.0f}s cap"
            )
            return [Figure(self.system, label, None, "jobs/s", note, kind=kind)]
        return self.drain(adapter, adapter.workers(1), kind, label, n, cap_s)

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
        self.step("memory per queued job", lambda: [measure.memory_per_job(adapter, ctx)])
        for body, name in (("drain", "drain"), ("io", "drain I/O")):
            for processes, label in ((1, f"{name}, 1 process"), (2, f"{name}, 2 processes")):
                kind = f"{body}{processes}"
                run = adapter.workers(processes)
                self.step(label, partial(self.drain, adapter, run, kind, label))
            for run in adapter.tuned():
                label = f"{name}, 1 process ({run.variant})"
                self.step(label, partial(self.drain, adapter, run, f"{body}1", label))
        if self.drain_jobs:
            for body, name in (("drain", "drain"), ("io", "drain I/O")):
                label = f"{name}, 1 process, {self.drain_jobs:,} jobs"
                small = f"{name}, 1 process"
                self.step(label, partial(self.large_drain, adapter, f"{body}1_large", label, small))
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
    parser.add_argument("--drain-jobs", type=int, default=0, help="the large drain's jobs (0: none)")
    parser.add_argument("--large-cap", type=float, default=60.0, help="the large drain's cap, seconds")
    parser.add_argument("--skip", action="append", default=[], help="a step not to measure")
    args = parser.parse_args()

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    run = Run(args.system, args)
    adapter: Adapter | None = None
    error = ""
    try:
        adapter = importlib.import_module(f"benchmarks.peers.{module(args.system)}").ADAPTER(args.url)
        adapter.check()  # fails here if the system is not installed
    except Exception as exc:
        error = f"cannot run: {exc!r}"[:400]
    dist = adapter.distribution if adapter is not None else args.system
    version = (adapter.version() if adapter is not None else None) or _version(dist)
    version += f" + taskiq-redis {_version('taskiq-redis')}" if dist == "taskiq" else ""
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
