"""What one dashboard poll reads from Redis, as a sans-I/O operation, and the JSON it becomes.

A poll reads every queue's stats, the live workers, the queues' per-minute history and the jobs that
per-job streams watch. Each of those is a core operation (`core/ops.py`); `operation.gather` runs them
in lockstep, so that one round trip carries the next request of every one of them. Two of them need a
name list before they can ask (the stats need the queue names, the heartbeats need the worker ids): they
ask with the names of the previous poll in the same round trip as the lists themselves, and only a name
that is new since then costs a second round trip (a new queue, a new worker).

The 60-minute history changes only in its current minute, so each poll reads that minute alone and the
whole hour is read again once a minute (when the minute turns, which also completes the minute before).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from redisq.admin.payloads import LimitBody, QueueSummary, WorkerBody, queue_summary, worker_body
from redisq.core import ops
from redisq.core.autoscale import scaling_of
from redisq.core.errors import JobNotFound
from redisq.core.job import JobInfo
from redisq.core.keys import QueueKeys, split_job_id
from redisq.core.operation import Op, gather
from redisq.core.stats import QueueStats, WorkerInfo

HISTORY_MINUTES = 60

KeysFor = Callable[[str], QueueKeys]
MinuteCount = tuple[int, int, int]  # (epoch minute, succeeded, failed)


class QueueSnapshot(QueueSummary):
    history: list[MinuteCount]  # HISTORY_MINUTES entries, oldest first, the current minute last
    desired_workers: int  # core/autoscale.py, from these stats and the live workers' heartbeats


WorkerSnapshot = WorkerBody  # a live worker, as the admin API's /_health shows it


class Snapshot(TypedDict):
    seq: int
    at: str
    redis_ok: bool
    error: str | None
    queues: list[QueueSnapshot]
    workers: list[WorkerSnapshot]


# ---- running several operations as one ---------------------------------------------------------------


def optional_job(keys_for: KeysFor, job_id: str) -> Op[JobInfo | None]:
    """A job's record, or None once it is gone (deleted, or expired after its final state)."""
    queue, uid = split_job_id(job_id)
    try:
        return (yield from ops.job_info(keys_for(queue), job_id, uid))
    except JobNotFound:
        return None


# ---- what a poll remembers ---------------------------------------------------------------------------


@dataclass
class PollMemory:
    """Kept by the poller between polls: the names to ask for first, and each queue's hour of history."""

    queues: list[str] = field(default_factory=list)
    worker_ids: list[str] = field(default_factory=list)
    history: dict[str, list[MinuteCount]] = field(default_factory=dict)  # as of `history_minute`
    history_minute: int = -1


@dataclass(frozen=True)
class PollResult:
    queues: list[QueueSnapshot]
    workers: list[WorkerSnapshot]
    jobs: dict[str, JobInfo | None]


def _queues_op(
    keys_for: KeysFor,
    prefix: str,
    memory: PollMemory,
    registered: Iterable[str],
    now_ms: int,
) -> Op[tuple[list[QueueStats], dict[str, list[MinuteCount]]]]:
    """Every queue's stats, by name, and its hour of history."""
    minute = now_ms // 60_000

    def reads(names: Sequence[str]) -> list[Op[Any]]:
        def span(name: str) -> int:
            fresh = memory.history_minute == minute and name in memory.history
            return 1 if fresh else HISTORY_MINUTES

        return [
            ops.stats_many(keys_for, names, now_ms),
            *(ops.history(keys_for(name), now_ms, span(name)) for name in names),
        ]

    registered = set(registered)
    guess = sorted({*memory.queues, *registered})
    known, *answers = yield from gather([ops.known_queues(prefix), *reads(guess)])
    names = sorted({*known, *registered})
    stats: dict[str, QueueStats] = {s.queue: s for s in answers[0]}
    recent: dict[str, list[MinuteCount]] = dict(zip(guess, answers[1:], strict=True))
    new = [name for name in names if name not in stats]
    if new:  # queues that appeared since the last poll: their stats and whole hour, one more round trip
        more = yield from gather(reads(new))
        stats.update((s.queue, s) for s in more[0])
        recent.update(zip(new, more[1:], strict=True))
    history: dict[str, list[MinuteCount]] = {}
    for name in names:
        got = recent[name]
        # A whole hour, or this minute alone over the hour read earlier in this same minute.
        history[name] = got if len(got) == HISTORY_MINUTES else [*memory.history[name][:-1], *got]
    memory.queues, memory.history, memory.history_minute = names, history, minute
    return [stats[name] for name in names], history


def _workers_op(prefix: str, memory: PollMemory, now_ms: int, ttl_ms: int) -> Op[list[WorkerInfo]]:
    memory.worker_ids, workers = yield from ops.live_workers_known(prefix, memory.worker_ids, now_ms, ttl_ms)
    return workers


def poll(
    keys_for: KeysFor,
    prefix: str,
    memory: PollMemory,
    *,
    registered: Iterable[str],
    worker_ttl_ms: int,
    jobs: Sequence[str] = (),
    overview: bool = True,
    now_ms: int | None = None,
    limits_for: Callable[[str], list[LimitBody]] = lambda queue: [],
) -> Op[PollResult]:
    """One poll; with `overview=False` only the watched jobs are read (no browser wants the rest)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    job_reads = [optional_job(keys_for, job_id) for job_id in jobs]
    if not overview:
        return PollResult([], [], dict(zip(jobs, (yield from gather(job_reads)), strict=True)))
    (stats, history), workers, *infos = yield from gather(
        [
            _queues_op(keys_for, prefix, memory, registered, now_ms),
            _workers_op(prefix, memory, now_ms, worker_ttl_ms),
            *job_reads,
        ]
    )
    queues: list[QueueSnapshot] = [
        {
            **queue_summary(s, limits_for(s.queue)),
            "history": history[s.queue],
            "desired_workers": scaling_of(s, workers).desired_workers,
        }
        for s in stats
    ]
    return PollResult(queues, [worker_body(w) for w in workers], dict(zip(jobs, infos, strict=True)))
