"""The body-alone ceiling: the I/O task body (peers/body.py) run with no queue, in one process, by the same
number of concurrent asyncio tasks as a `redisq worker` runs jobs (10): the rate a queue's drain of that
body is compared with ("queue efficiency" = a drain's rate / this ceiling).

    python -m benchmarks.ceiling [--jobs 10000]     # on a throwaway server, alone

In `python -m benchmarks` it runs in a child process of its own (a fresh interpreter, as a worker is),
which prints its Figure as one JSON line. The rate is taken as for a drain: distinct jobs recorded over
(latest recorded call - earliest), from the same observation keys.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

import redis

from .harness import Figure, rate, server
from .peers.base import REPO

CONCURRENCY = 10  # redisq's worker default


def measure(url: str, jobs: int, concurrency: int = CONCURRENCY) -> Figure:
    os.environ["BENCH_REDIS_URL"] = url
    from .peers import body
    from .peers.measure import observe
    from .peers.record import FLUSH_S

    indices = iter(range(jobs))

    async def lane() -> None:
        for i in indices:  # one iterator shared by every lane: each index runs once
            await body.run_io(i, 0.0)

    async def main() -> None:
        await asyncio.gather(*(lane() for _ in range(concurrency)))

    asyncio.run(main())
    time.sleep(4 * FLUSH_S)  # the flusher's last batch
    r = redis.Redis.from_url(url)
    obs = observe(r)
    r.close()
    fig = Figure("body alone", f"I/O body, {concurrency} asyncio tasks, no queue", None, "jobs/s")
    fig.kind, fig.setup = "ceiling", "one process, the I/O body in a loop (benchmarks/ceiling.py)"
    if obs.first is not None and obs.last is not None and obs.distinct > 1:
        fig.value = rate(obs.distinct, obs.last - obs.first)
    fig.extra = {"duplicate_runs": obs.duplicates}
    return fig


def in_child(url: str, jobs: int, timeout_s: float) -> Figure:
    """`measure` in a fresh interpreter (this one holds the harness); a failure is a row, never fatal."""
    argv = [sys.executable, "-m", "benchmarks.ceiling", "--url", url, "--jobs", str(jobs), "--json"]
    try:
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
        return Figure.from_row(json.loads(done.stdout.strip().splitlines()[-1]))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, TypeError) as exc:
        return Figure("body alone", "I/O body ceiling", None, "", note=f"failed: {exc!r}"[:400], kind="error")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling")
    parser.add_argument("--url", help="a server to use (default: a throwaway one)")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print the Figure as one JSON line")
    args = parser.parse_args()
    embedded = None if args.url else server()
    url = args.url or (embedded.url if embedded else "")
    try:
        redis.Redis.from_url(url).flushdb()
        fig = measure(url, args.jobs)
    finally:
        if embedded is not None:
            embedded.stop()
    print(json.dumps(fig.row()) if args.json else f"{fig.figure}: {fig.value or 0:,.0f} {fig.unit}")


if __name__ == "__main__":
    main()
