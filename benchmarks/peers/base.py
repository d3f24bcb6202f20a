"""The interface every system implements: producers (sync and/or async) and the worker commands.

Every system goes through the same measuring code (enqueue.py, measure.py) with one no-op task, `noop(index,
enqueued_at=0.0)`, whose body is `record(index, enqueued_at)` (record.py). An adapter imports its library
lazily, inside its methods, so that the harness runs without the peers installed.
"""

from __future__ import annotations

import importlib
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import redis

REPO = Path(__file__).resolve().parents[2]
QUEUE = "bench"  # the queue name, where a system takes one


class Producer(Protocol):
    """Enqueues from sync code, as a request handler in a sync framework would."""

    def enqueue(self, index: int, enqueued_at: float = 0.0) -> None: ...

    def close(self) -> None: ...


class AsyncProducer(Protocol):
    async def enqueue(self, index: int, enqueued_at: float = 0.0) -> None: ...

    async def aclose(self) -> None: ...


class Bulk(Protocol):
    """A documented way to enqueue many jobs in one call. `prepare` builds the call descriptions the API
    takes (untimed, like building a pipeline before timing it); `send` is the timed call."""

    def prepare(self, indices: Sequence[int]) -> Any: ...

    def send(self, prepared: Any) -> None: ...

    def close(self) -> None: ...


class AsyncBulk(Protocol):
    def prepare(self, indices: Sequence[int]) -> Any: ...

    async def send(self, prepared: Any) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class WorkerRun:
    """How to run workers for one figure: one or more commands, each started as its own process group."""

    label: str  # e.g. "1 process, prefork, concurrency 1"
    commands: list[list[str]]
    env: dict[str, str] = field(default_factory=dict)
    variant: str = ""  # "" for the system's defaults, else the tuned setting, e.g. "--pool threads"
    latency: bool = False  # a tuned run that also gets the latency figure (where the setting is about it)


@dataclass
class Context:
    """What every measurement takes: the server, the jobs per figure, the cap, where worker logs go."""

    url: str
    jobs: int
    cap_s: float
    workdir: Path  # worker logs
    pgid_file: Path | None  # every worker process group started, for the parent's last-resort cleanup

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


def cli(name: str) -> str:
    """A console script installed next to the running interpreter (the system's own environment)."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else name


def module(system: str) -> str:
    """The adapter's module name for a system name ("bullmq-node" -> "bullmq_node")."""
    return system.replace("-", "_")


class Adapter(ABC):
    system: str = ""
    distribution: str = ""  # for the version in the report
    sync_api: str = ""  # the single-enqueue calls, for the report
    async_api: str = ""
    bulk_api: str = ""  # how the bulk figure enqueues; "" when the system has no bulk API
    no_bulk_reason: str = "no bulk API"
    # A producer in another runtime times its own enqueue calls (timed_single, timed_bulk): a pipe between
    # the harness and each call would be part of the figure otherwise.
    self_timed: bool = False

    def __init__(self, url: str) -> None:
        self.url = url
        os.environ["BENCH_REDIS_URL"] = url  # the tasks modules read it, here and in the workers

    def check(self) -> None:
        """Raise if the system cannot run here (its library is not installed)."""
        importlib.import_module(f"benchmarks.peers.{module(self.system)}_tasks")

    def version(self) -> str | None:
        """The system's version for the report, where it is not the installed `distribution`."""
        return None

    def timed_single(self, jobs: int, cap_s: float) -> tuple[int, float]:
        """Self-timed producers: (jobs enqueued, seconds) for `jobs` awaited single enqueues."""
        raise NotImplementedError

    def timed_bulk(self, jobs: int) -> tuple[float, float]:
        """Self-timed producers: (seconds to build the call's input, seconds of the bulk call)."""
        raise NotImplementedError

    # Producers: an adapter implements the ones its library documents.
    def sync_producer(self) -> Producer | None:
        return None

    async def async_producer(self) -> AsyncProducer | None:
        return None

    def sync_bulk(self) -> Bulk | None:
        return None

    async def async_bulk(self) -> AsyncBulk | None:
        return None

    def tuned_bulk(self) -> list[tuple[str, Bulk]]:
        """Other documented ways to enqueue many (sync), each with its label."""
        return []

    @abstractmethod
    def workers(self, processes: int) -> WorkerRun:
        """The system's default worker setup, with `processes` worker processes."""

    def tuned(self) -> list[WorkerRun]:
        """Common tuned settings that change the picture, drained like the defaults (1 process)."""
        return []

    def worker_env(self) -> dict[str, str]:
        path = os.environ.get("PYTHONPATH", "")
        return {
            **os.environ,
            "BENCH_REDIS_URL": self.url,
            "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO),
            "PYTHONUNBUFFERED": "1",
        }
