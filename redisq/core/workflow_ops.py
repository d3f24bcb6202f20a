"""The Redis operations of workflows (issue 16), sans-I/O as in ops.py: enqueue a graph of jobs, carry
final states from outboxes to the jobs that wait for them, read a job's dependencies.

Why a workflow never strands a job that waits: a waiting job is created only after every job it depends
on exists and names it in its `parents` field (created with it, or registered by `dep_link`), so every
final state of those reaches it through an outbox, written in the same script as the state. The enqueue
therefore sends its jobs in dependency order (one atomic script call per queue and depth): a client that
dies half-way leaves jobs that nobody waits for, never a job waiting for one that does not exist. With a
workflow id, a repeated enqueue finds the jobs already created (by their unique keys) and completes it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import codec
from .config import Settings
from .errors import JobNotFound, WorkflowNotFound
from .job import JobError, JobState
from .keys import ID_SEPARATOR, GlobalKeys, QueueKeys, make_job_id, split_job_id
from .operation import Command, Op, ScriptCall, Single
from .ops import job_args, new_uids, register_queues
from .task import JobSpec
from .workflow import Node

KeysFor = Callable[[str], QueueKeys]
OUTBOX_BATCH = 200  # entries carried per round trip
CARRY_ROUNDS = 50  # bound on one carry: a longer cascade goes on at the next call


def _workflow_uids(workflow_id: str | None, n: int) -> list[str]:
    """Random uids, or with a workflow id, the same uids for the same id (a repeated enqueue finds them)."""
    if workflow_id is None:
        return new_uids(n)
    return [
        base64.urlsafe_b64encode(hashlib.sha256(f"{workflow_id}\0{i}".encode()).digest()[:12]).decode()
        for i in range(n)
    ]


def _depths(nodes: Sequence[Node]) -> list[int]:
    """Each node's depth: 0 without dependencies in the graph, else one more than its deepest one (the
    graph is a DAG by construction: a node only depends on nodes written before it)."""
    depth = [0] * len(nodes)
    for i, node in enumerate(nodes):
        for dep, _ in node.deps:
            if isinstance(dep, int):
                depth[i] = max(depth[i], depth[dep] + 1)
    return depth


def _link(keys_for: KeysFor, parent_id: str, child_ids: Sequence[str]) -> Op[dict[str, str]]:
    """Register `parent_id` on existing jobs (one call per queue); their final states so far ('' while
    not ended). JobNotFound if one does not exist (nothing registered on its queue)."""
    by_queue: dict[str, list[str]] = {}
    for child in child_ids:
        queue, uid = split_job_id(child)
        by_queue.setdefault(queue, []).append(uid)
    calls: list[Single] = [
        ScriptCall("dep_link", (keys_for(q).levels,), (keys_for(q).base, parent_id, *uids), whole_queue=False)
        for q, uids in by_queue.items()
    ]
    replies = yield calls
    states: dict[str, str] = {}
    for (queue, uids), reply in zip(by_queue.items(), replies, strict=True):
        if reply == -1:
            raise JobNotFound(f"cannot depend on a job of queue {queue!r} among {uids}: no such job")
        for uid, state in zip(uids, reply, strict=True):
            states[make_job_id(queue, uid)] = state.decode() if isinstance(state, bytes) else str(state)
    return states


@dataclass
class _Placed:
    queue: str
    uid: str
    created: bool = True

    @property
    def id(self) -> str:
        return make_job_id(self.queue, self.uid)


def enqueue_graph(
    keys_for: KeysFor,
    settings: Settings,
    nodes: Sequence[Node],
    now_ms: int,
    meta: codec.JobMeta,
    registered: set[str],
    workflow_id: str | None = None,
    idempotent: bool = False,
) -> Op[list[tuple[str, str, bool]]]:
    """Enqueue a compiled workflow; returns (queue, uid, created) per node, in order. With a workflow id,
    its graph is kept for `workflow_info`; `idempotent` (an id the caller chose): a repeated enqueue of
    the same id finds the jobs of the first."""
    uids = _workflow_uids(workflow_id if idempotent else None, len(nodes))
    placed = [_Placed(node.spec.queue, uid) for node, uid in zip(nodes, uids, strict=True)]
    specs = [node.spec for node in nodes]
    if idempotent:  # its unique keys find the jobs of an earlier enqueue of the same id
        for i, spec in enumerate(specs):
            if not spec.unique_key:
                specs[i] = _with_key(spec, f"wf:{workflow_id}:{i}")
    parents: list[list[int]] = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        for dep, _ in node.deps:
            if isinstance(dep, int):
                parents[dep].append(i)
    new_queues = sorted({spec.queue for spec in specs} - registered)
    if new_queues:
        yield from register_queues(keys_for, settings.prefix, new_queues, wait=settings.replica_acks > 0)
    depth = _depths(nodes)
    rounds: dict[tuple[int, str], list[int]] = {}
    for i in sorted(range(len(nodes)), key=lambda i: depth[i]):
        rounds.setdefault((depth[i], specs[i].queue), []).append(i)
    yield from _write_graph(settings, workflow_id, nodes, placed, now_ms)  # first: a half-sent one shows too
    for (_, queue), members in rounds.items():
        values: list[Any] = [now_ms, len(members), settings.result_ttl_s]
        for i in members:
            seen = yield from _dependency_states(keys_for, nodes[i], placed, placed[i].id)
            node_meta = codec.JobMeta(**meta, workflow=workflow_id) if workflow_id is not None else meta
            values += _node_args(i, nodes[i], specs[i], placed, parents[i], seen, settings, node_meta)
        reply = yield ScriptCall("enqueue", (keys_for(queue).levels,), values)
        for j in range(1, len(reply), 2):
            holder = placed[members[int(reply[j]) - 1]]
            holder.uid, holder.created = reply[j + 1].decode(), False
    if any(not p.created for p in placed):  # unique keys of their own may have named other jobs
        yield from _write_graph(settings, workflow_id, nodes, placed, now_ms)
    return [(p.queue, p.uid, p.created) for p in placed]


def _write_graph(
    settings: Settings, workflow_id: str | None, nodes: Sequence[Node], placed: Sequence[_Placed], now_ms: int
) -> Op[None]:
    """The graph that `workflow_info` reads, kept as long as a dead letter (the longest a step's record
    may be kept); without a workflow id, none."""
    if workflow_id is None:
        return
    steps = [
        {
            "id": p.id,
            "task": node.spec.task,
            "deps": [[dep if isinstance(dep, str) else placed[dep].id, policy] for dep, policy in node.deps],
        }
        for node, p in zip(nodes, placed, strict=True)
    ]
    graph = codec.dumps({"id": workflow_id, "created_at": now_ms, "steps": steps})
    yield Command(
        ("SET", GlobalKeys(settings.prefix).workflow(workflow_id), graph, "EX", settings.dead_ttl_s)
    )


def _with_key(spec: JobSpec, key: str) -> JobSpec:
    return dataclasses.replace(spec, unique_key=key)


def _dependency_states(
    keys_for: KeysFor, node: Node, placed: Sequence[_Placed], parent_id: str
) -> Op[dict[str, str]]:
    """The final states so far of the node's dependencies that must be told of it now: existing jobs, and
    jobs of the workflow that were not created here (a unique key's holder, which does not name this
    node as a parent). The jobs created here name it in their `parents` from their creation."""
    told = [
        dep if isinstance(dep, str) else placed[dep].id
        for dep, _ in node.deps
        if isinstance(dep, str) or not placed[dep].created
    ]
    if not told:
        return {}
    return (yield from _link(keys_for, parent_id, told))


def _node_args(
    index: int,
    node: Node,
    spec: JobSpec,
    placed: Sequence[_Placed],
    parents: Sequence[int],
    seen: dict[str, str],
    settings: Settings,
    meta: codec.JobMeta,
) -> list[Any]:
    """enqueue.lua's values for one node: a job's, with the meta that tells its worker to read its
    dependencies, and the fields `parents` (who waits for it) and `deps` (what it waits for)."""
    job_meta = codec.JobMeta(**meta)
    if node.deps:
        job_meta["deps"] = 1
    if node.feed:
        fed = [placed[i].id for i in node.feed]
        job_meta["feed"] = fed if node.feed_many else fed[0]
    values = job_args(spec, placed[index].uid, settings, job_meta)
    extra: list[Any] = []
    if parents:
        extra += ("parents", " ".join(placed[i].id for i in parents))
    if node.deps:
        deps = [str(settings.dead_ttl_s)]
        for dep, policy in node.deps:
            dep_id = dep if isinstance(dep, str) else placed[dep].id
            deps.append(f"{dep_id} {policy} {seen.get(dep_id) or '-'}")
        extra += ("deps", " ".join(deps))
    values[5] += len(extra) // 2
    values += extra
    return values


def carry_outbox(keys_for: KeysFor, queue: str, now_ms: int, dead_ttl_s: int) -> Op[tuple[int, set[str]]]:
    """Carry up to OUTBOX_BATCH entries of a queue's outbox to the jobs that wait for them, then take them
    out: a carrier that dies in between leaves them for the next, and a replay changes nothing (dep_done).
    Returns how many were carried and the queues whose outboxes have entries now (the queue itself when
    it had more, a parent's queue when a parent ended there)."""
    k = keys_for(queue)
    entries = yield Command(("LRANGE", k.outbox, 0, OUTBOX_BATCH - 1))
    if not entries:
        return 0, set()
    by_queue: dict[str, list[str]] = {}
    for raw in entries:
        parts = raw.decode().split(" ")
        if len(parts) != 3:
            continue  # not written by redisq: nothing to carry, taken out below
        try:
            parent_queue, parent_uid = split_job_id(parts[0])
        except ValueError:
            continue
        by_queue.setdefault(parent_queue, []).extend((parent_uid, make_job_id(queue, parts[1]), parts[2]))
    calls: list[Single] = [
        ScriptCall("dep_done", (keys_for(q).levels,), (keys_for(q).base, now_ms, dead_ttl_s, *args))
        for q, args in by_queue.items()
    ]
    replies = (yield calls) if calls else []
    yield ScriptCall("outbox_done", (k.outbox,), entries)
    more = {q for q, reply in zip(by_queue, replies, strict=True) if int(reply) > 0}
    if len(entries) == OUTBOX_BATCH:
        more.add(queue)
    return len(entries), more


def carry_outboxes(keys_for: KeysFor, queues: Sequence[str], now_ms: int, dead_ttl_s: int) -> Op[int]:
    """`carry_outbox` on each queue, and on the queues it leads to, for at most CARRY_ROUNDS calls."""
    todo, carried = list(dict.fromkeys(queues)), 0
    for _ in range(CARRY_ROUNDS):
        if not todo:
            break
        queue = todo.pop(0)
        n, more = yield from carry_outbox(keys_for, queue, now_ms, dead_ttl_s)
        carried += n
        todo += [q for q in more if q not in todo]
    return carried


@dataclass(frozen=True)
class DependencyOutcome:
    """How a job's dependency ended, as the job sees it when it runs."""

    state: str  # its final state: succeeded, dead, cancelled, aborted, expired, deleted ('' not ended)
    on_failure: str  # the policy the job declared for it
    result: Any = None  # its return value when it succeeded (None if its record expired)


def dependency_outcomes(keys_for: KeysFor, queue: str, uid: str) -> Op[dict[str, DependencyOutcome]]:
    """A job's dependencies (but those it declared `remove` and that failed), with their results: one
    call on its queue, which reads the results of those in the same queue, and one per other queue."""
    k = keys_for(queue)
    flat = yield ScriptCall("dep_results", (k.levels,), (k.base, "of", uid))
    deps: dict[str, tuple[str, str]] = {}
    results: dict[str, Any] = {}
    elsewhere: dict[str, list[str]] = {}
    for i in range(0, len(flat), 3):
        dep_id = flat[i].decode()
        policy, _, state = flat[i + 1].decode().partition(":")
        if policy == "remove" and state not in ("", "succeeded"):
            continue
        deps[dep_id] = (policy, state)
        if isinstance(flat[i + 2], bytes):
            results[dep_id] = codec.loads(flat[i + 2])
        elif state == "succeeded" and not dep_id.startswith(f"{queue}{ID_SEPARATOR}"):
            q, u = split_job_id(dep_id)
            elsewhere.setdefault(q, []).append(u)
    calls: list[Single] = [
        ScriptCall("dep_results", (keys_for(q).levels,), (keys_for(q).base, "results", *uids))
        for q, uids in elsewhere.items()
    ]
    replies = (yield calls) if calls else []
    for (q, uids), reply in zip(elsewhere.items(), replies, strict=True):
        for u, raw in zip(uids, reply, strict=True):
            results[make_job_id(q, u)] = codec.loads(raw) if isinstance(raw, bytes) else None
    return {
        dep_id: DependencyOutcome(state, policy, results.get(dep_id))
        for dep_id, (policy, state) in deps.items()
    }


@dataclass(frozen=True)
class WorkflowStep:
    """One step of a workflow as `RedisQ.workflow` shows it."""

    job_id: str
    task: str
    state: JobState | None  # None: its record expired (or was deleted)
    depends_on: list[tuple[str, str]]  # (job id, on_failure policy)
    error_type: str | None = None  # of a step that ended otherwise than succeeded


@dataclass(frozen=True)
class WorkflowInfo:
    id: str
    created_at: float  # epoch seconds
    steps: list[WorkflowStep]

    @property
    def state(self) -> str:
        """succeeded (every step), failed (one ended otherwise and nothing moves), or running."""
        states = [s.state for s in self.steps]
        if all(s is JobState.SUCCEEDED for s in states):
            return "succeeded"
        if all(s is None or s.is_final for s in states):
            return "failed"
        return "running"


def workflow_info(keys_for: KeysFor, prefix: str, workflow_id: str) -> Op[WorkflowInfo]:
    raw = yield Command(("GET", GlobalKeys(prefix).workflow(workflow_id)))
    if raw is None:
        raise WorkflowNotFound(f"no workflow {workflow_id!r} (never enqueued with this id, or it expired)")
    graph = codec.loads(raw)
    calls: list[Single] = []
    for step in graph["steps"]:
        queue, uid = split_job_id(step["id"])
        calls.append(
            Command(("HMGET", keys_for(queue).job(uid), "state", "error", "enqueued_at"), tolerant=True)
        )
    records = yield calls
    steps = []
    for step, record in zip(graph["steps"], records, strict=True):
        state: JobState | None = None
        error_type = None
        if isinstance(record, list) and record[2] is not None:
            state = JobState(record[0].decode()) if record[0] else JobState.QUEUED
            if record[1] and state is not JobState.SUCCEEDED:
                error_type = JobError.from_json(record[1]).type
        steps.append(
            WorkflowStep(step["id"], step["task"], state, [(d, p) for d, p in step["deps"]], error_type)
        )
    return WorkflowInfo(graph["id"], graph["created_at"] / 1000, steps)
