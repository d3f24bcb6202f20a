"""The figures that need workers (drain, latency, duplicate runs), the same way for every system.

Each function returns Figures and never raises for a slow system: a measurement that runs past its cap
stops there and says so. Worker processes are stopped (SIGTERM, then SIGKILL) before a function returns.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from ..harness import Figure, Group, rate, start_group, stop_groups
from .base import Adapter, Context, WorkerRun
from .enqueue import fill, sync_enqueue
from .record import FLUSH_S, KEYS

SETTLE_S = 1.0  # after the last job: time for late flushes and for any duplicate run to show up
POLL_S = 0.05
LATENCY_JOBS = 200
LATENCY_GAP_S = 0.005


@dataclass
class Observed:
    runs: int
    distinct: int
    latencies: list[float]
    first: float | None
    last: float | None

    @property
    def duplicates(self) -> int:
        return self.runs - self.distinct


def observe(r: redis.Redis) -> Observed:
    pipe = r.pipeline(transaction=False)
    pipe.get(KEYS.runs)
    pipe.scard(KEYS.seen)
    pipe.lrange(KEYS.latency, 0, -1)
    pipe.lrange(KEYS.first, 0, -1)
    pipe.lrange(KEYS.last, 0, -1)
    runs, distinct, lat, firsts, lasts = pipe.execute()
    return Observed(
        int(runs or 0),
        int(distinct),
        [float(x) for x in lat],
        min((float(x) for x in firsts), default=None),
        max((float(x) for x in lasts), default=None),
    )


@contextmanager
def running(adapter: Adapter, run: WorkerRun, ctx: Context, tag: str) -> Iterator[list[Group]]:
    env = {**adapter.worker_env(), **run.env}
    groups: list[Group] = []
    try:
        for k, argv in enumerate(run.commands):
            log = ctx.workdir / f"{adapter.system}-{tag}-{k}.log"
            groups.append(start_group(argv, env, Path.cwd(), log, ctx.pgid_file))
        yield groups
    finally:
        stop_groups(groups)


def _dead(groups: Sequence[Group]) -> Group | None:
    for g in groups:
        if g.process.poll() is not None:
            return g
    return None


def drain(
    adapter: Adapter, run: WorkerRun, ctx: Context, kind: str, label: str, n: int
) -> tuple[Figure, Observed | None]:
    """`n` queued jobs, then the workers start; rate from the first job's start to the last's.

    The workers run the body their environment selects (run.env: BENCH_BODY=io for the I/O body)."""
    fig = Figure(adapter.system, label, None, "jobs/s", kind=kind, variant=run.variant, setup=run.label)
    r = ctx.client()
    fill(adapter, range(n), time.monotonic() + ctx.cap_s)
    with running(adapter, run, ctx, kind + run.variant.replace(" ", "")) as groups:
        started = time.monotonic()
        deadline = started + ctx.cap_s
        while (distinct := int(r.scard(KEYS.seen))) < n:
            dead = _dead(groups)
            if dead is not None:
                fig.note = f"worker exited with {dead.process.returncode}: {dead.tail()}"
                return fig, None
            if time.monotonic() > deadline:
                fig.note = f"capped at {ctx.cap_s:.0f}s: {distinct}/{n} ran, rate over those"
                break
            time.sleep(POLL_S)
        wall = time.monotonic() - started
        time.sleep(SETTLE_S if distinct >= n else 2 * FLUSH_S)
        obs = observe(r)
    r.close()
    if obs.first is not None and obs.last is not None and obs.distinct > 1:
        fig.value = rate(obs.distinct, obs.last - obs.first)
    fig.extra = {
        "duplicate_runs": obs.duplicates,
        "launch_to_done_s": round(wall, 2),
    }
    return fig, obs


def memory_per_job(adapter: Adapter, ctx: Context) -> Figure:
    """`INFO used_memory` after `jobs` no-op jobs were queued (by the fastest API), minus before, per job."""
    r = ctx.client()
    before = int(r.info("memory")["used_memory"])
    fill(adapter, range(ctx.jobs), time.monotonic() + ctx.cap_s)
    after = int(r.info("memory")["used_memory"])
    r.close()
    fig = Figure(adapter.system, "memory per queued job", (after - before) / ctx.jobs, "B", kind="mem")
    fig.setup = f"{ctx.jobs:,} no-op jobs queued by " + (adapter.bulk_api or "single enqueues")
    return fig


def latency(adapter: Adapter, run: WorkerRun, ctx: Context) -> tuple[list[Figure], Observed | None]:
    """An idle worker; LATENCY_JOBS jobs enqueued LATENCY_GAP_S apart; (task start - enqueue call)."""
    tuned = f" ({run.variant})" if run.variant else ""
    base = Figure(adapter.system, f"latency, idle worker{tuned}", None, "ms", kind="p50", setup=run.label)
    base.variant = run.variant
    r = ctx.client()
    with running(adapter, run, ctx, "latency") as groups, sync_enqueue(adapter) as enqueue:
        enqueue(2_000_000, 0.0)  # connect outside the samples
        deadline = time.monotonic() + ctx.cap_s
        probe = 1_000_000
        while int(r.scard(KEYS.seen)) == 0:  # the worker is up once a probe job has run
            dead = _dead(groups)
            if dead is not None:
                base.note = f"worker exited with {dead.process.returncode}: {dead.tail()}"
                return [base], None
            if time.monotonic() > deadline:
                base.note = f"capped at {ctx.cap_s:.0f}s: the worker never ran a probe job"
                return [base], None
            enqueue(probe, 0.0)
            probe += 1
            _wait(lambda: int(r.scard(KEYS.seen)) > 0, 1.0)
        time.sleep(1.0)  # idle: blocked or polling, as the system waits for work
        began = time.time()
        for i in range(LATENCY_JOBS):
            enqueue(i, time.time())
            time.sleep(LATENCY_GAP_S)
        enqueued_over = time.time() - began
        _wait(lambda: int(r.llen(KEYS.latency)) >= LATENCY_JOBS, ctx.cap_s)
        time.sleep(SETTLE_S)
        obs = observe(r)
    r.close()
    samples = sorted(x * 1000 for x in obs.latencies)
    if len(samples) < LATENCY_JOBS:
        base.note = f"capped at {ctx.cap_s:.0f}s: {len(samples)}/{LATENCY_JOBS} ran"
        return [base], obs
    extra = {"mean_ms": round(statistics.fmean(samples), 2), "max_ms": round(samples[-1], 2)}
    last_start = (obs.last or began) - began
    if last_start > enqueued_over + 0.5:  # the worker fell behind the arrivals: queueing, not pickup
        base.note = (
            f"fell behind: jobs enqueued over {enqueued_over:.1f}s kept starting until {last_start:.1f}s"
        )
    p50 = Figure(adapter.system, f"latency p50{tuned}", statistics.median(samples), "ms", base.note, extra)
    p99 = Figure(adapter.system, f"latency p99{tuned}", samples[math.ceil(0.99 * len(samples)) - 1], "ms")
    for fig, kind in ((p50, "p50"), (p99, "p99")):
        fig.kind, fig.variant, fig.setup = kind, run.variant, run.label
    return [p50, p99], obs


def _wait(done: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S / 5)
    return True
