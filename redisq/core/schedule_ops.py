"""The Redis operations of periodic jobs (issue 12), sans-I/O like ops.py: every one takes `now_ms`.

Keys, all under the queue's hash tag (one slot per queue, as every script of redisq):
`<prefix>:{q}:schedule:<id>` (hash: the definition, the job it writes, next and last run) and
`<prefix>:{q}:schedules` (zset: ids by next run, +inf while paused or ended). The scripts
`schedule_claim.lua` (a tick) and `schedule_write.lua` (upsert, pause, resume, delete) do the writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import codec
from .config import Settings
from .errors import ConcurrentUpdate, ScheduleNotFound
from .keys import QueueKeys, make_job_id
from .operation import Command, Op, ScriptCall, Single
from .ops import known_queues, new_uids, register_queues
from .schedules import JobTemplate, Origin, Schedule, ScheduleInfo
from .task import Task, resolve_spec

KeysFor = Callable[[str], QueueKeys]
CAS_ATTEMPTS = 20  # an upsert or resume that keeps losing its compare-and-set to ticks gives up then
DUE_BATCH = 100  # due schedules claimed per queue per round


def job_template(task: Task[Any, Any], schedule: Schedule, settings: Settings) -> JobTemplate:
    """What each tick enqueues: the task's options, encoded as `enqueue` encodes a job (ops.job_args).
    A task's `unique` option does not apply: each tick carries its own unique key."""
    spec = resolve_spec(task.name, task.options, schedule.queue, schedule.args, schedule.kwargs, None, 0)
    opts = spec.options
    meta: codec.JobMeta = {"timeout": opts.timeout_s} if opts.timeout_s is not None else {}
    payload = spec.encode(meta, settings.max_payload_bytes, settings.envelope_version)
    return JobTemplate(
        payload=payload,
        priority=opts.priority,
        max_attempts=opts.retries + 1,
        result_ttl_s=opts.result_ttl_s,
        ttl_ms=int(opts.ttl_s * 1000) if opts.ttl_s else None,
        sig=codec.sign(payload, settings.signing_key) if settings.signing_key else None,
        limits=spec.limits,
    )


def read(k: QueueKeys, schedule_id: str) -> Op[ScheduleInfo | None]:
    fields = yield Command(("HGETALL", k.schedule(schedule_id)), tolerant=True)
    if isinstance(fields, Exception) or not fields:
        return None
    return ScheduleInfo.from_hash(schedule_id, k.queue, fields)


def put(k: QueueKeys, schedule: Schedule, template: JobTemplate, now_ms: int, origin: Origin) -> Op[str]:
    """Create or update a schedule: "created", "updated" (its next run recomputed from now when its
    definition changed, kept when only its origin did) or "unchanged" (nothing written)."""
    stored = schedule.definition(template)
    for _ in range(CAS_ATTEMPTS):
        old = yield from read(k, schedule.id)
        same = old is not None and old.version == stored["version"]
        if same and old is not None and old.origin == origin:
            return "unchanged"
        anchor = old.anchor_ms if old is not None and old.anchor_ms else now_ms
        next_ms = old.next_ms if same and old is not None else schedule.timing.next_after(now_ms, anchor)
        fields: list[Any] = [*_pairs(stored), "origin", origin, "anchor", anchor, "created_at", now_ms]
        reply = yield ScriptCall(
            "schedule_write",
            (k.schedules,),
            (
                "put",
                schedule.id,
                old.version if old is not None else "",
                _opt(old.next_ms if old is not None else None),
                _opt(next_ms),
                *fields,
            ),
        )
        if reply == 1:
            return "updated" if old is not None else "created"
    raise ConcurrentUpdate(f"schedule {schedule.id} kept changing while it was written; try again")


def _pairs(mapping: dict[str, Any]) -> list[Any]:
    return [item for pair in mapping.items() for item in pair]


def _opt(ms: int | None) -> str:
    return "" if ms is None else str(ms)


def pause(k: QueueKeys, schedule_id: str) -> Op[None]:
    reply = yield ScriptCall("schedule_write", (k.schedules,), ("pause", schedule_id))
    if reply == -1:
        raise ScheduleNotFound(f"no schedule {schedule_id!r}")


def delete(k: QueueKeys, schedule_id: str) -> Op[None]:
    reply = yield ScriptCall("schedule_write", (k.schedules,), ("delete", schedule_id))
    if reply == -1:
        raise ScheduleNotFound(f"no schedule {schedule_id!r}")


def resume(k: QueueKeys, schedule_id: str, now_ms: int) -> Op[None]:
    """Runs again from the first tick after now: the ticks of the paused time are not caught up."""
    for _ in range(CAS_ATTEMPTS):
        old = yield from read(k, schedule_id)
        if old is None:
            raise ScheduleNotFound(f"no schedule {schedule_id!r}")
        next_ms = old.timing.next_after(now_ms, old.anchor_ms) if old.timing is not None else None
        reply = yield ScriptCall(
            "schedule_write", (k.schedules,), ("resume", schedule_id, old.version, _opt(next_ms))
        )
        if reply == -1:
            raise ScheduleNotFound(f"no schedule {schedule_id!r}")
        if reply == 1:
            return
    raise ConcurrentUpdate(f"schedule {schedule_id} kept changing while it was resumed; try again")


def run_now(k: QueueKeys, schedule_id: str, now_ms: int, default_ttl_s: int) -> Op[str]:
    """Enqueue the schedule's job now (paused or not); its regular next run does not move. Returns the
    job id."""
    reply = yield ScriptCall(
        "schedule_claim",
        (k.schedules,),
        (now_ms, default_ttl_s, schedule_id, "now", new_uids(1)[0]),
    )
    if reply == -1:
        raise ScheduleNotFound(f"no schedule {schedule_id!r}")
    return make_job_id(k.queue, reply[2].decode())


def find_queue(keys_for: KeysFor, prefix: str, schedule_id: str, queue: str | None) -> Op[QueueKeys]:
    """The queue holding a schedule id (the first by name if several do: pass `queue` then)."""
    if queue is not None:
        return keys_for(queue)
    names = yield from known_queues(prefix)
    if names:
        scores = yield [Command(("ZSCORE", keys_for(q).schedules, schedule_id)) for q in names]
        for name, score in zip(names, scores, strict=True):
            if score is not None:
                return keys_for(name)
    raise ScheduleNotFound(f"no schedule {schedule_id!r}")


def list_schedules(keys_for: KeysFor, prefix: str, queues: Sequence[str] | None) -> Op[list[ScheduleInfo]]:
    """Every schedule of the queues (default: every known queue), by queue then next run; two round
    trips whatever their number."""
    names = list(queues) if queues is not None else (yield from known_queues(prefix))
    if not names:
        return []
    members = yield [Command(("ZRANGE", keys_for(q).schedules, 0, -1)) for q in names]
    wanted = [(q, m.decode()) for q, ids in zip(names, members, strict=True) for m in ids]
    if not wanted:
        return []
    records = yield [Command(("HGETALL", keys_for(q).schedule(sid)), tolerant=True) for q, sid in wanted]
    return [
        ScheduleInfo.from_hash(sid, q, fields)
        for (q, sid), fields in zip(wanted, records, strict=True)
        if fields and not isinstance(fields, Exception)
    ]


@dataclass(frozen=True)
class Claimed:
    schedule_id: str
    queue: str
    tick_ms: int
    job_id: str
    created: bool  # False: this tick's job already existed (never a second one)


def claim_due(
    keys_for: KeysFor, queues: Sequence[str], now_ms: int, default_ttl_s: int
) -> Op[tuple[list[Claimed], int | None]]:
    """Claim every due tick of the queues' schedules: (the jobs written, the earliest next run after
    this round, None if no schedule has one). Three round trips when something is due, one otherwise."""
    reads: list[Single] = []
    for q in queues:
        key = keys_for(q).schedules
        reads.append(Command(("ZRANGE", key, "-inf", now_ms, "BYSCORE", "LIMIT", 0, DUE_BATCH)))
        reads.append(
            Command(("ZRANGE", key, "(" + str(now_ms), "+inf", "BYSCORE", "LIMIT", 0, 1, "WITHSCORES"))
        )
    replies = yield reads
    earliest: int | None = None
    due: list[tuple[str, str]] = []
    for i, q in enumerate(queues):
        due += [(q, m.decode()) for m in replies[2 * i]]
        score = _first_score(replies[2 * i + 1])
        if score is not None and score != float("inf"):  # +inf: paused or ended
            earliest = _min(earliest, int(score))
    if not due:
        return [], earliest
    records = yield [Command(("HGETALL", keys_for(q).schedule(sid)), tolerant=True) for q, sid in due]
    calls: list[Single] = []
    planned: list[tuple[str, str, int]] = []
    for (q, sid), fields in zip(due, records, strict=True):
        if not fields or isinstance(fields, Exception):
            continue  # deleted meanwhile; a damaged one is reported by the claim of a run now or the list
        s = ScheduleInfo.from_hash(sid, q, fields)
        if s.timing is None or s.next_ms is None or s.paused or s.next_ms > now_ms:
            continue
        run, next_ms = s.timing.plan(s.next_ms, now_ms, s.anchor_ms)
        if next_ms is not None:
            earliest = _min(earliest, next_ms)
        uid = new_uids(1)[0]
        args = (now_ms, default_ttl_s, sid, "tick", uid, str(s.next_ms), s.version, run or 0, _opt(next_ms))
        calls.append(ScriptCall("schedule_claim", (keys_for(q).schedules,), args))
        planned.append((q, sid, run or 0))
    if not calls:
        return [], earliest
    results = yield calls
    claimed = []
    for (q, sid, tick), reply in zip(planned, results, strict=True):
        if isinstance(reply, list) and tick:
            claimed.append(Claimed(sid, q, tick, make_job_id(q, reply[2].decode()), bool(reply[1])))
    return claimed, earliest


def _first_score(reply: list[Any]) -> float | None:
    """The score of a one-member ZRANGE WITHSCORES: redis-py answers [[member, score]] or, parsed
    differently, [member, score]."""
    if not reply:
        return None
    pair = reply[0] if isinstance(reply[0], (list, tuple)) else reply
    return float(pair[1])


def _min(a: int | None, b: int) -> int:
    return b if a is None else min(a, b)


def sync_declared(
    keys_for: KeysFor,
    prefix: str,
    declared: Sequence[tuple[Schedule, JobTemplate]],
    queues: Sequence[str],
    now_ms: int,
) -> Op[tuple[dict[str, str], list[ScheduleInfo]]]:
    """At a worker's start: upsert the schedules declared in code on the queues it serves (idempotent:
    an unchanged one keeps its next run), and delete those of origin "code" on these queues that the code
    no longer declares. Returns ({id: created|updated|unchanged}, the removed ones)."""
    served = set(queues)
    mine = [(s, t) for s, t in declared if s.queue in served]
    if mine:
        yield from register_queues(keys_for, prefix, sorted({s.queue for s, _ in mine}))
    changes = {}
    for schedule, template in mine:
        changes[schedule.id] = yield from put(keys_for(schedule.queue), schedule, template, now_ms, "code")
    ids = {(s.queue, s.id) for s, _ in mine}
    removed = []
    for stored in (yield from list_schedules(keys_for, prefix, list(queues))):
        if stored.origin == "code" and (stored.queue, stored.id) not in ids:
            try:
                yield from delete(keys_for(stored.queue), stored.id)
            except ScheduleNotFound:  # another worker starting with the same code removed it first
                continue
            removed.append(stored)
    return changes, removed
