"""Client operations, each written once as a sans-I/O generator (see backend.py)."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Container, Sequence
from typing import Any

import redis

from . import acl, codec, ready
from .config import Settings
from .errors import JobNotFound, WriteNotReplicated
from .health import HealthReport, HealthThresholds, ServerCheck, verdict
from .job import JobInfo, JobState
from .keys import GlobalKeys, QueueKeys, make_job_id
from .operation import Command, Op, ScriptCall, Single, gather
from .redis_errors import redisq_error
from .stats import QueueStats, WorkerInfo, parse_stats
from .task import JobSpec
from .task_metrics import attempt_counts

KeysFor = Callable[[str], QueueKeys]
PERMISSION_SAMPLE = 10  # queues whose keys `health` checks the Redis user's permissions on

# Sorted sets that index a queue's jobs by state; the other states live only in job records. Queued jobs
# are in the ready index instead (ready.py): one list per priority level.
STATE_INDEX = {
    JobState.WAITING: "waiting",
    JobState.SCHEDULED: "scheduled",
    JobState.ACTIVE: "active",
    JobState.SUCCEEDED: "succeeded",
    JobState.DEAD: "dead",
}


def new_uids(n: int) -> list[str]:
    """n random 96-bit ids, 16 characters of URL-safe base64, from one system call (ids must stay
    unguessable: no PRNG). 96 bits: a collision is not to be expected in 10^12 jobs of one queue, and 16
    characters instead of 32 hex ones shorten every record's key and index entry (issue 15: 33 B a job)."""
    raw = base64.urlsafe_b64encode(os.urandom(12 * n)).decode()  # 12 bytes: 16 characters, no padding
    return [raw] if n == 1 else [raw[i : i + 16] for i in range(0, 16 * n, 16)]


def job_args(spec: JobSpec, uid: str, settings: Settings, meta: codec.JobMeta) -> list[Any]:
    """One job's values for enqueue.lua: six, plus field/value pairs for the options it uses."""
    opts = spec.options
    payload = spec.encode(
        {**meta, "timeout": opts.timeout_s} if opts.timeout_s is not None else meta,
        settings.max_payload_bytes,
        settings.envelope_version,
    )
    extra: list[Any] = []
    if spec.due_ms:
        extra += ("due_at", spec.due_ms)
    if spec.expires_ms:
        extra += ("expires_at", spec.expires_ms)
    if opts.result_ttl_s:
        extra += ("result_ttl", opts.result_ttl_s)
    if spec.unique_key:
        if opts.dedupe is not None:  # before unique_key: the script reads the mode first
            extra += ("dedupe", f"{opts.dedupe.mode}:{opts.dedupe.window_ms}")
        extra += ("unique_key", spec.unique_key)
    if settings.signing_key:
        extra += ("sig", codec.sign(payload, settings.signing_key))
    if spec.limits:
        extra += ("limits", spec.limits)
    return [uid, payload, opts.priority, opts.retries + 1, spec.task, len(extra) // 2, *extra]


def enqueue(
    keys_for: KeysFor,
    settings: Settings,
    specs: Sequence[JobSpec],
    now_ms: int,
    meta: codec.JobMeta,
    registered: Container[str] = (),
    metas: Sequence[codec.JobMeta] = (),
) -> Op[list[tuple[str, str, bool]]]:
    """Enqueue specs in one round trip; returns (queue, uid, created) in the order given.

    One script call per queue (usually one), and the queues not in `registered` are added to the set of
    known queues. Every payload is encoded and checked before anything is sent: bad input writes nothing.
    `metas`, if given, is each spec's own meta instead of `meta` (traced: each job's creation context).
    """
    uids = new_uids(len(specs))
    positions: dict[str, list[int]] = {}
    for position, spec in enumerate(specs):
        members = positions.get(spec.queue)
        if members is None:
            positions[spec.queue] = [position]
        else:
            members.append(position)
    calls: list[Single] = []
    for queue, members in positions.items():
        values: list[Any] = [now_ms, len(members), settings.result_ttl_s]
        for position in members:
            job_meta = metas[position] if metas else meta
            values += job_args(specs[position], uids[position], settings, job_meta)
        calls.append(ScriptCall("enqueue", (keys_for(queue).levels,), values))
    new_queues = [queue for queue in positions if queue not in registered]
    if new_queues:
        # Its own round trip, before the jobs: in one pipeline, a failed SADD (e.g. MOVED: the set lives
        # on another Cluster node) made the call fail although its jobs were written, and a caller that
        # retried wrote them twice (issue 11). A queue registered with no job yet is harmless.
        yield from register_queues(keys_for, settings.prefix, new_queues, wait=settings.replica_acks > 0)
    replies = (
        (yield from _replicated(calls, settings, uids, specs)) if settings.replica_acks else (yield calls)
    )
    out = [(spec.queue, uid, True) for spec, uid in zip(specs, uids)]  # noqa: B905 - equal by construction
    for (queue, members), reply in zip(positions.items(), replies, strict=True):
        # After the count of jobs created, the reply lists the jobs whose unique key another job held:
        # (1-based position, holder).
        if reply[0] < len(members):
            for i in range(1, len(reply), 2):
                out[members[int(reply[i]) - 1]] = (queue, reply[i + 1].decode(), False)
    return out


def _replicated(
    calls: list[Single], settings: Settings, uids: Sequence[str], specs: Sequence[JobSpec]
) -> Op[list[Any]]:
    """The calls' replies once `settings.replica_acks` replicas have them: WAIT in the same round trip and
    on the same connection (WAIT counts the replicas that have this connection's writes)."""
    wanted, timeout_ms = settings.replica_acks, settings.replica_ack_timeout_ms
    answer: list[Any] = yield [*calls, Command(("WAIT", wanted, timeout_ms))]
    replies, acks = answer[:-1], answer[-1]
    if acks < wanted:
        ids = ", ".join(make_job_id(spec.queue, uid) for spec, uid in zip(specs[:3], uids[:3], strict=True))
        ids += f" and {len(uids) - 3} more" if len(uids) > 3 else ""
        raise WriteNotReplicated(
            f"{acks} of the {wanted} replicas asked for (Settings.replica_acks) confirmed the enqueue within "
            f"{timeout_ms} ms: the job(s) may exist on the master and are not confirmed; they can be lost "
            f"in a failover ({ids}). Retrying with a unique_key cannot create a job twice."
        )
    return replies


def register_queues(keys_for: KeysFor, prefix: str, queues: Sequence[str], wait: bool = False) -> Op[None]:
    """Add queues to the set of known queues (listings, health, the dashboard), and check that this Redis
    user may run what their scripts run: refused there, a script would stop half-way through its writes."""
    g = GlobalKeys(prefix)
    refused, _ = yield [
        acl.preflight_call([keys_for(q) for q in queues], g, worker=False, wait=wait),
        Command(("SADD", g.queues, *queues)),
    ]
    acl.check(refused)


def enqueue_one(
    keys_for: KeysFor, settings: Settings, spec: JobSpec, now_ms: int, meta: codec.JobMeta
) -> Op[tuple[str, str, bool]]:
    """`enqueue` for one job of a queue already registered: the same script call, without grouping
    (what every `task.enqueue()` does; 2 us less per call than `enqueue`, benchmarks/README.md)."""
    uid = new_uids(1)[0]
    values: list[Any] = [now_ms, 1, settings.result_ttl_s]
    values += job_args(spec, uid, settings, meta)
    call = ScriptCall("enqueue", (keys_for(spec.queue).levels,), values)
    if settings.replica_acks:
        (reply,) = yield from _replicated([call], settings, [uid], [spec])
    else:
        reply = yield call
    if reply[0] == 1:
        return spec.queue, uid, True
    return spec.queue, reply[2].decode(), False  # reply: {0, 1, holder}


def job_info(k: QueueKeys, job_id: str, uid: str) -> Op[JobInfo]:
    fields = yield Command(("HGETALL", k.job(uid)), tolerant=True)
    if isinstance(fields, Exception):  # WRONGTYPE: not a job's record; a worker buries it when it meets it
        raise JobNotFound(f"no job {job_id} (its record is damaged: {fields})")
    if not fields:
        raise JobNotFound(f"no job {job_id} (never enqueued, or its record expired)")
    return JobInfo.from_hash(job_id, k.queue, fields)


def jobs_by_state(
    k: QueueKeys, state: JobState, offset: int, limit: int, newest_first: bool
) -> Op[list[JobInfo]]:
    """One page of a state's index; records that expired meanwhile, or that are damaged beyond reading
    (not a hash: a worker moves those to the dead letters), are left out."""
    if state is JobState.QUEUED:  # the levels' lists, then the jobs set aside by their limits
        uids = yield from ready.queued_page(k, offset, limit, newest_first)
    else:
        index, start, stop = k.part(STATE_INDEX[state]), offset, offset + limit - 1
        uids = yield Command(("ZREVRANGE" if newest_first else "ZRANGE", index, start, stop))
    if not uids:
        return []
    records = yield [Command(("HGETALL", k.job(uid.decode())), tolerant=True) for uid in uids]
    return [
        JobInfo.from_hash(make_job_id(k.queue, uid.decode()), k.queue, fields, state)
        for uid, fields in zip(uids, records, strict=True)
        if fields and not isinstance(fields, Exception)
    ]


# The single-job scripts' calls, built in one place: the bulk actions (bulk.py) send many in a round trip.
def cancel_call(k: QueueKeys, uid: str, now_ms: int) -> ScriptCall:
    """Replies 1 cancelled, 0 not cancellable in its state, -1 no such job."""
    return ScriptCall("cancel", (k.levels, k.scheduled, k.stats), (k.base, uid, now_ms))


def delete_call(k: QueueKeys, uid: str) -> ScriptCall:
    """Replies 1 deleted, 0 running, -1 no such job."""
    return ScriptCall("delete", (k.levels, k.scheduled, k.succeeded, k.dead), (k.base, uid))


def promote_call(k: QueueKeys, uid: str) -> ScriptCall:
    """Replies 1 promoted, 0 not scheduled, -1 no such job."""
    return ScriptCall("promote", (k.scheduled, k.levels, k.wake), (k.base, uid))


def requeue_call(k: QueueKeys, uids: Sequence[str]) -> ScriptCall:
    """Replies {requeued, kept}: kept counts the dead letters that cannot run (they stay dead)."""
    return ScriptCall("requeue_dead", (k.dead, k.levels, k.stats, k.wake), (k.base, len(uids), 0, *uids))


def cancel(k: QueueKeys, job_id: str, uid: str, now_ms: int) -> Op[bool]:
    reply = yield cancel_call(k, uid, now_ms)
    if reply == -1:
        raise JobNotFound(f"no job {job_id}")
    return bool(reply == 1)


def abort(k: QueueKeys, job_id: str, uid: str, now_ms: int) -> Op[bool]:
    """Cancel a job that has not started, or ask the worker running it to stop; False: it had ended."""
    reply = yield ScriptCall("abort", (k.levels, k.scheduled, k.stats), (k.base, uid, now_ms))
    if reply == -1:
        raise JobNotFound(f"no job {job_id}")
    return bool(reply != 0)


def delete(k: QueueKeys, job_id: str, uid: str) -> Op[bool]:
    """False: the job is running (its worker holds the lease)."""
    reply = yield delete_call(k, uid)
    if reply == -1:
        raise JobNotFound(f"no job {job_id}")
    return bool(reply == 1)


def promote(k: QueueKeys, job_id: str, uid: str) -> Op[bool]:
    """False: the job is not scheduled (not delayed, not waiting for a retry)."""
    reply = yield promote_call(k, uid)
    if reply == -1:
        raise JobNotFound(f"no job {job_id}")
    return bool(reply == 1)


def retry(k: QueueKeys, job_id: str, uid: str) -> Op[bool]:
    """A dead job back to the queue with fresh attempts, or a job waiting for its next attempt run now."""
    if (yield from requeue_dead(k, [uid])):
        return True
    return (yield from promote(k, job_id, uid))


def set_progress(k: QueueKeys, uid: str, value: float, note: str | None) -> Op[bool]:
    reply = yield ScriptCall(
        "progress", (k.job(uid),), (codec.dumps({"value": value, "note": note}),), whole_queue=False
    )
    return bool(reply == 1)


def set_paused(k: QueueKeys, paused: bool) -> Op[None]:
    if paused:
        yield Command(("SET", k.paused, "1"))
    else:
        # Idle workers block until woken: wake one, and it passes the wake on while work remains.
        yield [Command(("DEL", k.paused)), Command(("LPUSH", k.wake, "1")), Command(("LTRIM", k.wake, 0, 0))]


def watch(k: QueueKeys, job_id: str, uid: str) -> Op[tuple[JobState, Any, Any]]:
    """Mark the job awaited; return (state, raw result, raw error)."""
    reply = yield ScriptCall("watch", (k.job(uid),), (), whole_queue=False)
    if not reply:
        raise JobNotFound(f"no job {job_id} (never enqueued, or its record expired)")
    state, result, error = reply
    return JobState(state.decode()), result, error


def _stats_call(k: QueueKeys, now_ms: int) -> ScriptCall:
    return ScriptCall("stats", (k.levels, k.scheduled, k.active, k.dead, k.stats), (k.base, now_ms))


def stats(k: QueueKeys, now_ms: int) -> Op[QueueStats]:
    reply = yield _stats_call(k, now_ms)
    return parse_stats(k.queue, now_ms, reply)


def stats_many(keys_for: KeysFor, names: Sequence[str], now_ms: int) -> Op[list[QueueStats]]:
    """Every named queue's numbers in one round trip."""
    if not names:
        return []
    replies = yield [_stats_call(keys_for(name), now_ms) for name in names]
    return [parse_stats(name, now_ms, reply) for name, reply in zip(names, replies, strict=True)]


def history(k: QueueKeys, now_ms: int, minutes: int) -> Op[list[tuple[int, int, int]]]:
    """(epoch minute, succeeded, failed) for the last `minutes` minutes, oldest first, this one included."""
    current = now_ms // 60_000
    span = range(current - minutes + 1, current + 1)
    replies = yield [Command(("GETRANGE", k.metrics("m", m), 0, 7)) for m in span]
    counts = [attempt_counts(raw) for raw in replies]
    return [(m, ok, failed) for m, (ok, failed) in zip(span, counts, strict=True)]


def known_queues(prefix: str) -> Op[list[str]]:
    members = yield Command(("SMEMBERS", GlobalKeys(prefix).queues))
    return sorted(m.decode() for m in members)


def requeue_dead(k: QueueKeys, uids: Sequence[str] | None, batch: int = 1000) -> Op[int]:
    """Requeue the given dead jobs, or every dead job (in atomic batches) with `uids=None`.

    Dead letters that cannot run (a corrupt record) stay dead; paging goes past them.
    """
    keys = (k.dead, k.levels, k.stats, k.wake)
    if uids is not None:
        if not uids:
            return 0
        requeued, _ = yield requeue_call(k, uids)
        return int(requeued)
    total = offset = 0
    while True:
        requeued, kept = yield ScriptCall("requeue_dead", keys, (k.base, batch, offset))
        total += int(requeued)
        offset += int(kept)
        if int(requeued) + int(kept) < batch:
            return total


def purge(k: QueueKeys, state: JobState, batch: int = 1000) -> Op[int]:
    """Delete every job in one state's index, in batches (each batch is one atomic script). The queued
    jobs are those of every level's list and those that their limits set aside (ready.queued_indexes)."""
    if state is JobState.QUEUED:
        indexes = yield from ready.queued_indexes(k)
    else:
        indexes = [k.part(STATE_INDEX[state])]
    total = 0
    for index in indexes:
        while True:
            n = int((yield ScriptCall("purge", (index,), (k.base, batch))))
            total += n
            if n < batch:
                break
    return total


def live_workers(prefix: str, now_ms: int, heartbeat_ttl_ms: int) -> Op[list[WorkerInfo]]:
    g = GlobalKeys(prefix)
    members = yield Command(("ZRANGE", g.workers, now_ms - heartbeat_ttl_ms, "+inf", "BYSCORE"))
    if not members:
        return []
    infos = yield Command(("MGET", *(g.worker(m.decode()) for m in members)))
    return [WorkerInfo.from_json(raw) for raw in infos if raw is not None]


def live_workers_known(
    prefix: str, known: Sequence[str], now_ms: int, heartbeat_ttl_ms: int
) -> Op[tuple[list[str], list[WorkerInfo]]]:
    """`live_workers` for a poller that asks again and again (the dashboard, a metrics scrape): the
    heartbeats of the workers it saw last time go with the registry, in one round trip; only workers new
    since then cost a second. Returns the live ids (to pass as `known` next time) and their heartbeats."""
    g = GlobalKeys(prefix)
    registry = Command(("ZRANGE", g.workers, now_ms - heartbeat_ttl_ms, "+inf", "BYSCORE"))
    guess = list(known)
    replies = yield [registry, Command(("MGET", *map(g.worker, guess)))] if guess else [registry]
    live = sorted(m.decode() for m in replies[0])
    beats: dict[str, bytes | None] = dict(zip(guess, replies[1], strict=True)) if guess else {}
    new = [worker_id for worker_id in live if worker_id not in beats]
    if new:
        beats.update(zip(new, (yield Command(("MGET", *map(g.worker, new)))), strict=True))
    return live, [WorkerInfo.from_json(raw) for w in live if (raw := beats.get(w)) is not None]


def queues_and_workers(
    keys_for: KeysFor, prefix: str, names: Sequence[str], now_ms: int, heartbeat_ttl_ms: int
) -> Op[tuple[list[QueueStats], list[WorkerInfo]]]:
    """The queues' stats and the live workers in two round trips (an autoscaler polls this): the stats
    go with the worker registry, then the heartbeats of the workers it lists."""
    stats, workers = yield from gather(
        [stats_many(keys_for, names, now_ms), live_workers(prefix, now_ms, heartbeat_ttl_ms)]
    )
    return stats, workers


def ping() -> Op[float]:
    """Round-trip time in milliseconds: the slowest master's. Only when no master answers is Redis
    unavailable: a Cluster with one master down still serves the queues of the others, and readiness must
    not take every web process out for it (the queues' health names the node)."""
    latency_ms, _ = yield from unreachable_nodes()
    return latency_ms


def server_check(allow_eviction: bool) -> Op[ServerCheck]:
    """The server settings redisq depends on. INFO where CONFIG is disabled (managed services), CONFIG
    where INFO is refused; a user allowed neither gets a check that knows nothing, not an error."""
    infos, configs = yield [
        Command(("INFO", "memory"), tolerant=True, every_node=True),
        Command(("CONFIG", "GET", "maxmemory-policy"), tolerant=True, every_node=True),
    ]
    # Every master of a Cluster: one that evicts loses the jobs of its slots.
    return ServerCheck.of_nodes({n: (infos[n], configs.get(n)) for n in infos}, allow_eviction)


def _typed(exc: Exception) -> Exception:
    return (redisq_error(exc) if isinstance(exc, redis.RedisError) else None) or exc


def unreachable_nodes() -> Op[tuple[float, dict[str, str]]]:
    """(the slowest round trip in ms, the masters that did not answer a PING and why)."""
    started = time.perf_counter()
    replies = yield Command(("PING",), tolerant=True, every_node=True)
    failed = {n: str(_typed(r)) for n, r in replies.items() if isinstance(r, Exception)}
    if failed and len(failed) == len(replies):  # all of them: the one answer a single server gives
        raise _typed(next(iter(replies.values())))
    return (time.perf_counter() - started) * 1000, failed


def health(
    keys_for: KeysFor,
    prefix: str,
    queues: Sequence[str] | None,
    limits: HealthThresholds,
    heartbeat_ttl_ms: int,
    allow_eviction: bool,
) -> Op[HealthReport]:
    latency_ms, failed = yield from unreachable_nodes()
    if failed:  # a Cluster master is down: its queues cannot be read, and the report says which it is
        nodes = "; ".join(f"{n}: {why}" for n, why in failed.items())
        return HealthReport.unreachable(f"Redis nodes unreachable: {nodes}", list(failed))
    server = yield from server_check(allow_eviction)
    names = list(queues) if queues is not None else (yield from known_queues(prefix))
    if names:  # can this user run what the queues' scripts run? (a sample: keys share the prefix)
        sample = [keys_for(name) for name in names[:PERMISSION_SAMPLE]]
        acl.check((yield acl.preflight_call(sample, GlobalKeys(prefix), worker=False)))
    now_ms = int(time.time() * 1000)
    # Monitoring polls this: every queue's numbers in one round trip, however many queues there are.
    all_stats = yield from stats_many(keys_for, names, now_ms)
    workers = yield from live_workers(prefix, now_ms, heartbeat_ttl_ms)
    return verdict(latency_ms, server, all_stats, workers, limits)
