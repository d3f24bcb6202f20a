"""Shared pieces: a throwaway server, bounded measurements, and result records."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from redisq.core.embedded import EmbeddedServer, free_port, start_embedded


@dataclass
class Figure:
    system: str
    figure: str
    value: float | None  # jobs or ops per second, or milliseconds for latency
    unit: str
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return asdict(self)


def server() -> EmbeddedServer:
    return start_embedded(port=free_port())


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def worker_process(url: str, prefix: str, queue: str, concurrency: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REDISQ_URL": url, "BENCH_PREFIX": prefix}
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from redisq.cli import run; run()",
            "--log-level",
            "WARNING",
            "worker",
            "benchmarks.app:rq",
            "--queues",
            queue,
            "--concurrency",
            str(concurrency),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
