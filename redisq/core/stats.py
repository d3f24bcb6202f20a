"""Queue statistics and worker heartbeats: value types and how they are read from Redis replies."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from . import codec

COUNTERS = (
    "enqueued",
    "succeeded",
    "failed",
    "retried",
    "dead",
    "recovered",
    "expired",
    "cancelled",
    "requeued",
    "aborted",
    "deferred",  # attempts given back because the task raised RateLimited
)


@dataclass(frozen=True)
class QueueStats:
    """One queue. Gauges are current sizes; counters only grow; rates cover the last 60 s."""

    queue: str
    queued: int
    scheduled: int
    active: int
    dead: int  # dead letters kept now (the counter `counters["dead"]` is every job that ever died)
    counters: dict[str, int]
    throughput_per_minute: float  # attempts finished (succeeded or failed)
    failures_per_minute: float
    oldest_queued_age_s: float | None  # of the job at the head of the queue
    paused: bool = False  # workers fetch nothing from it until it is resumed
    succeeded_kept: int = 0  # finished records still listed (the index is trimmed; the counter is not)
    limited: int = 0  # ready jobs set aside until their rate or concurrency limit has room (not in `queued`)
    waiting: int = 0  # jobs waiting for the jobs they depend on to end (workflows, issue 16)

    @property
    def succeeded(self) -> int:
        return self.counters["succeeded"]

    @property
    def failed(self) -> int:
        """Failed attempts, retried or not."""
        return self.counters["failed"]


def _rolling(now_ms: int, current: Any, previous: Any) -> float:
    # Two per-minute buckets approximate a sliding 60 s window: all of this minute, and the share of the
    # previous minute that still falls inside the window.
    elapsed = (now_ms % 60_000) / 60_000
    return int(current or 0) + int(previous or 0) * (1 - elapsed)


def parse_stats(queue: str, now_ms: int, reply: list[Any]) -> QueueStats:
    queued, scheduled, active, dead, flat, head_at, this_minute, last_minute, paused, kept, parked = reply[
        :11
    ]
    counters = dict.fromkeys(COUNTERS, 0)
    for i in range(0, len(flat), 2):
        with contextlib.suppress(ValueError):  # a counter that is not a number was not written by redisq
            counters[flat[i].decode()] = int(flat[i + 1])
    return QueueStats(
        queue=queue,
        queued=int(queued),
        scheduled=int(scheduled),
        active=int(active),
        dead=int(dead),
        counters=counters,
        throughput_per_minute=_rolling(now_ms, this_minute[0], last_minute[0])
        + _rolling(now_ms, this_minute[1], last_minute[1]),
        failures_per_minute=_rolling(now_ms, this_minute[1], last_minute[1]),
        oldest_queued_age_s=max(0.0, (now_ms - int(head_at)) / 1000) if head_at else None,
        paused=bool(paused),
        succeeded_kept=int(kept),
        limited=int(parked),
        waiting=int(reply[11]) if len(reply) > 11 else 0,
    )


@dataclass(frozen=True)
class RunningJob:
    """A job that a worker runs now, as its heartbeat lists it."""

    id: str
    task: str  # "" until the worker has decoded the job
    started_at: float | None  # epoch seconds

    @classmethod
    def from_json(cls, data: Any) -> RunningJob:
        if isinstance(data, str):  # heartbeats before issue 11 listed bare ids
            return cls(data, "", None)
        return cls(str(data["id"]), str(data.get("task", "")), data.get("started_at"))


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker's heartbeat says about it."""

    id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    active: int
    started_at: float
    last_seen: float
    jobs: list[RunningJob] = field(default_factory=list)  # the jobs it runs now (up to 100)
    processed: int = 0
    queue_concurrency: dict[str, int] = field(default_factory=dict)  # its per-queue caps (`--queues q:5`)

    @classmethod
    def from_json(cls, raw: bytes) -> WorkerInfo:
        data = codec.loads(raw)
        return cls(
            id=data["id"],
            host=data["host"],
            pid=data["pid"],
            queues=data["queues"],
            concurrency=data["concurrency"],
            active=data["active"],
            started_at=data["started_at"],
            last_seen=data["last_seen"],
            jobs=[RunningJob.from_json(j) for j in data.get("jobs", [])],  # older heartbeats lack these
            processed=data.get("processed", 0),
            queue_concurrency=data.get("queue_concurrency", {}),
        )
