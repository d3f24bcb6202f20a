"""The worker's Redis operations (sans-I/O, see backend.py) and the values they carry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..keys import GlobalKeys, QueueKeys
from ..limits import QueueLimit
from ..operation import Command, Op, ScriptCall, Single

NO_LIMIT = QueueLimit()

Outcome = Literal["ok", "retry", "dead", "release", "defer", "abort"]  # defer: RateLimited, no attempt spent


@dataclass(slots=True)
class Delivery:
    """One leased job as fetched: not yet decoded (decoding errors are the runner's to report)."""

    queue: str
    uid: str
    payload: bytes
    attempt: int
    max_attempts: int
    signature: str | None
    token: str  # "<worker id>/<attempt>", what fetch.lua stored as the lease
    enqueued_at: float | None = None  # epoch seconds, from the record (the queue wait of metrics)
    task: str = ""  # its name once the runner decoded the payload (finish.lua counts per task)


@dataclass(slots=True)
class Running:
    """A delivery being run, for the heartbeat: the task is known once the runner decoded the payload."""

    job_id: str
    started_at: float  # epoch seconds
    task: str = ""


@dataclass(slots=True)
class Settlement:
    delivery: Delivery
    outcome: Outcome
    data: bytes = b""  # result JSON for ok, error JSON otherwise
    retry_at_ms: int = 0
    run_ms: float = -1.0  # how long the attempt ran (metrics per task, issue 17); negative: it did not run


def fetch(
    k: QueueKeys,
    now_ms: int,
    count: int,
    lease_ms: int,
    worker_id: str,
    promote: int,
    dead_ttl_s: int,
    limit: QueueLimit = NO_LIMIT,
) -> Op[tuple[int | None, list[Delivery]]]:
    """Lease up to `count` jobs; also returns when to fetch again unwoken (the next due job or the next
    time a limit frees), or None."""
    reply = yield ScriptCall(
        "fetch",
        (k.levels, k.scheduled, k.active, k.queued, k.stats, k.wake),
        (k.base, now_ms, count, lease_ms, worker_id, promote, dead_ttl_s, *limit.fetch_args()),
    )
    next_due = int(reply[0])
    deliveries = []
    for i in range(1, len(reply), 6):
        attempt = int(reply[i + 2])
        deliveries.append(
            Delivery(
                queue=k.queue,
                uid=reply[i].decode(),
                payload=reply[i + 1],
                attempt=attempt,
                max_attempts=int(reply[i + 3]),
                signature=reply[i + 4].decode() or None,
                token=f"{worker_id}/{attempt}",
                enqueued_at=float(reply[i + 5]) / 1000 if reply[i + 5] else None,
            )
        )
    return (None if next_due < 0 else next_due), deliveries


def finish(
    keys: dict[str, QueueKeys],
    settlements: Sequence[Settlement],
    now_ms: int,
    dead_ttl_s: int,
    limits: Mapping[str, QueueLimit] | None = None,
) -> Op[tuple[list[str], list[str]]]:
    """Settle a batch in one round trip (one script call per queue). Returns the stale uids, and the queues
    whose outbox received outcomes for the jobs that wait for these (issue 16)."""
    by_queue: dict[str, list[Settlement]] = {}
    for s in settlements:
        by_queue.setdefault(s.delivery.queue, []).append(s)
    calls: list[Single] = []
    for queue, items in by_queue.items():
        k = keys[queue]
        limit = limits.get(queue, NO_LIMIT) if limits else NO_LIMIT
        args: list[object] = [k.base, now_ms, dead_ttl_s, len(items), *limit.fetch_args()]
        for s in items:
            run_ms = round(s.run_ms, 3)
            args += [
                s.delivery.uid,
                s.delivery.token,
                s.outcome,
                s.data,
                s.retry_at_ms,
                s.delivery.task,
                run_ms,
            ]
        touched = (k.active, k.scheduled, k.succeeded, k.dead, k.stats, k.wake, k.levels)
        calls.append(ScriptCall("finish", touched, args))
    replies = yield calls
    told = [queue for queue, reply in zip(by_queue, replies, strict=True) if reply[1]]
    return [uid.decode() for reply in replies for uid in reply[0]], told


def renew(
    keys: dict[str, QueueKeys], held: Sequence[tuple[str, str, str]], deadline_ms: int
) -> Op[tuple[list[str], list[str]]]:
    """Extend leases (queue, uid, token). Returns the uids whose lease is no longer ours, and those of the
    held jobs that are marked for abort."""
    by_queue: dict[str, list[str]] = {}
    for queue, uid, token in held:
        by_queue.setdefault(queue, []).extend((uid, token))
    calls: list[Single] = [
        ScriptCall("renew", (keys[q].active,), (keys[q].base, deadline_ms, *pairs))
        for q, pairs in by_queue.items()
    ]
    replies = yield calls
    lost = [uid.decode() for reply in replies for uid in reply[0]]
    return lost, [uid.decode() for reply in replies for uid in reply[1]]


@dataclass(frozen=True)
class Retention:
    limit: int
    dead_ttl_s: int
    succeeded_keep_ms: int
    succeeded_max: int
    dead_keep_ms: int
    dead_max: int


def sweep(keys: Sequence[QueueKeys], now_ms: int, r: Retention) -> Op[tuple[int, int]]:
    """Recover lapsed leases and trim indexes on every queue; returns (recovered, sent to dead)."""
    calls: list[Single] = [
        ScriptCall(
            "sweep",
            (k.active, k.levels, k.dead, k.succeeded, k.stats, k.wake),
            (
                k.base,
                now_ms,
                r.limit,
                r.dead_ttl_s,
                r.succeeded_keep_ms,
                r.succeeded_max,
                r.dead_keep_ms,
                r.dead_max,
            ),
        )
        for k in keys
    ]
    replies = yield calls
    return sum(int(r[0]) for r in replies), sum(int(r[1]) for r in replies)


def heartbeat(
    g: GlobalKeys, worker_id: str, info: bytes, now_ms: int, ttl_ms: int, queues: Sequence[str]
) -> Op[None]:
    yield [
        Command(("ZADD", g.workers, now_ms, worker_id)),
        Command(("SET", g.worker(worker_id), info, "PX", ttl_ms)),
        # Entries of workers gone for long are pruned here, by the living.
        Command(("ZREMRANGEBYSCORE", g.workers, "-inf", now_ms - 10 * ttl_ms)),
        Command(("SADD", g.queues, *queues)),
    ]


def deregister(g: GlobalKeys, worker_id: str) -> Op[None]:
    yield [Command(("ZREM", g.workers, worker_id)), Command(("DEL", g.worker(worker_id)))]
