"""What the `/queues` admin API does, free of any web framework: validate, call the core, shape the JSON.

Each handler takes the client and already-extracted parameters (strings from a query string, or values a
framework has typed) and returns a JSON-ready TypedDict from `payloads.py`. Every check on client
input lives here, so the Starlette app and the FastAPI router accept and refuse exactly the same
requests; their errors become HTTP answers in `errors.py`.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import orjson

from redisq.core.client import RedisQ
from redisq.core.errors import InvalidJobId
from redisq.core.job import JobState
from redisq.core.jobs import Job
from redisq.core.keys import ID_SEPARATOR
from redisq.core.search import JobFilter
from redisq.core.task import MAX_PRIORITY

from .access import Grant, Visible, everything
from .errors import ActionNotAllowed, InvalidParameter, QueueNotFound
from .payloads import (
    Enqueued,
    HealthReportBody,
    JobActionDone,
    JobBody,
    JobPage,
    PauseState,
    Purged,
    QueueList,
    QueueSummary,
    Requeued,
    health_body,
    job_body,
    limit_bodies,
    queue_summary,
)
from .scope import scoped_health
from .search import FILTER_PARAMS, filtered_page

# The states kept in an index (waiting: for their dependencies, issue 16).
ListedState = Literal["queued", "scheduled", "active", "succeeded", "dead", "waiting"]
PurgeableState = Literal["queued", "scheduled", "succeeded", "dead", "waiting"]  # active: held by a worker
Order = Literal["newest", "oldest"]
JobAction = Literal["retry", "cancel", "promote", "delete", "abort"]
LISTED_STATES: tuple[str, ...] = get_args(ListedState)
PURGEABLE_STATES: tuple[str, ...] = get_args(PurgeableState)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 2**32  # a sorted set holds fewer members; a bigger number would overflow Redis' ranges
MAX_DELAY_S = 10 * 365 * 86400  # far enough for any schedule, near enough for every date to stay valid
ENQUEUE_FIELDS = ("task", "args", "kwargs", "delay_s", "priority")
RETRY_FIELDS = ("args", "kwargs")  # a retry's optional body: the dead job's new arguments (issue 17)
# The query parameters of the JSON routes that take any; every other parameter is refused (a 422), on
# every JSON route: `?task=x` used to be ignored, and the answer looked filtered when it was not. The
# listing's filters (issue 17) are search.py's.
LIST_PARAMS = ("state", "offset", "limit", "order", *FILTER_PARAMS)
PURGE_PARAMS = ("state",)
_DIGITS = re.compile(r"[0-9]{1,12}")

_DONE = {
    "retry": "retried",
    "cancel": "cancelled",
    "promote": "promoted",
    "delete": "deleted",
    "abort": "aborted",  # asked: a running job ends `aborted` once its worker stopped it
}


@dataclass(frozen=True)
class PageRequest:
    state: JobState
    offset: int
    limit: int
    newest_first: bool


@dataclass(frozen=True)
class EnqueueRequest:
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    delay_s: float | None
    priority: int | None


# ---- input --------------------------------------------------------------------------------------------


def _int_param(name: str, raw: str | int | None, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, str):
        if not _DIGITS.fullmatch(raw):
            raise InvalidParameter(f"{name} must be a whole number, got {raw!r}", field=name)
        raw = int(raw)
    if isinstance(raw, bool) or not low <= raw <= high:
        raise InvalidParameter(f"{name} must be between {low} and {high}, got {raw!r}", field=name)
    return raw


def _state_param(raw: str | None, allowed: tuple[str, ...], default: str | None = None) -> JobState:
    value = default if raw is None else raw
    if value not in allowed:
        choices = ", ".join(allowed)
        raise InvalidParameter(f"state must be one of {choices}; got {value!r}", field="state")
    return JobState(value)


def check_query(names: Iterable[str], allowed: Iterable[str] = ()) -> None:
    """Refuse query parameters that the route does not take (there is no filtering yet)."""
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        raise InvalidParameter(
            f"unknown query parameter(s): {', '.join(unknown)} (this route takes: {takes})", field=unknown[0]
        )


def page_request(
    state: str | None, offset: str | int | None, limit: str | int | None, order: str | None
) -> PageRequest:
    if order not in (None, "newest", "oldest"):
        raise InvalidParameter(f"order must be newest or oldest, got {order!r}", field="order")
    return PageRequest(
        state=_state_param(state, LISTED_STATES, default="queued"),
        offset=_int_param("offset", offset, 0, 0, MAX_OFFSET),
        limit=_int_param("limit", limit, DEFAULT_LIMIT, 1, MAX_LIMIT),
        newest_first=order != "oldest",
    )


def purge_state(state: str | None) -> JobState:
    """Purging has no default state: deleting jobs must be asked for by name."""
    if state is None:
        raise InvalidParameter("state is required: " + ", ".join(PURGEABLE_STATES), field="state")
    return _state_param(state, PURGEABLE_STATES)


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"the request body is not valid JSON: {exc}", field="body") from None


def task_call_body(
    body: object, fields: Sequence[str]
) -> tuple[dict[str, Any], str, list[Any], dict[str, Any]]:
    """A request body that names a task and its arguments (an enqueue, a schedule), checked: the body, and
    its `task`, `args` and `kwargs`; any field not in `fields` is refused."""
    if not isinstance(body, dict):
        raise InvalidParameter("the body must be a JSON object with a 'task' name", field="body")
    _refuse_unknown_fields(body, fields)
    task = body.get("task")
    if not isinstance(task, str) or not task:
        raise InvalidParameter("task must be the name of a registered task", field="task")
    args, kwargs = call_arguments(body)
    return body, task, args, kwargs


def _refuse_unknown_fields(body: dict[str, Any], fields: Sequence[str]) -> None:
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InvalidParameter(f"unknown field(s) {unknown}; allowed: {', '.join(fields)}", field=unknown[0])


def call_arguments(body: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """A body's `args` (a JSON array) and `kwargs` (a JSON object), [] and {} when left out."""
    args, kwargs = body.get("args", []), body.get("kwargs", {})
    if not isinstance(args, list):
        raise InvalidParameter("args must be a JSON array", field="args")
    if not isinstance(kwargs, dict):
        raise InvalidParameter("kwargs must be a JSON object", field="kwargs")
    return args, kwargs


def retry_arguments(body: object) -> tuple[list[Any], dict[str, Any]]:
    """The body of a retry with edited arguments: `args` and `kwargs`, checked as an enqueue's are."""
    if not isinstance(body, dict):
        raise InvalidParameter(
            "the body must be a JSON object with the new 'args' and 'kwargs'", field="body"
        )
    _refuse_unknown_fields(body, RETRY_FIELDS)
    return call_arguments(body)


def seconds_field(body: dict[str, Any], name: str, low: int, high: int) -> float | None:
    """An optional number of seconds within [low, high] (not a bool, not NaN or infinite)."""
    value = body.get(name)
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise InvalidParameter(f"{name} must be a number of seconds from {low} to {high}", field=name)
    return value


def enqueue_request(raw: object) -> EnqueueRequest:
    body, task, args, kwargs = task_call_body(raw, ENQUEUE_FIELDS)
    delay_s, priority = seconds_field(body, "delay_s", 0, MAX_DELAY_S), body.get("priority")
    if priority is not None and (
        isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > MAX_PRIORITY
    ):
        raise InvalidParameter(f"priority must be a whole number within ±{MAX_PRIORITY}", field="priority")
    return EnqueueRequest(task, args, kwargs, delay_s, priority)


# ---- handlers -----------------------------------------------------------------------------------------


async def require_queue(rq: RedisQ, queue: str) -> None:
    """Queues that Redis knows (something was enqueued there) or that a registered task uses."""
    if queue not in {t.queue for t in rq.tasks.values()} and queue not in await rq.known_queues():
        raise QueueNotFound(f"no queue {queue!r}")


async def health_report(rq: RedisQ, visible: Visible = everything) -> HealthReportBody:
    """The queues' health with every detail (workers, reasons), for operators: the public health
    routes tell anyone only the names of the failing checks. `visible`: the queues the request may see
    (access per queue, scope.py); the others' checks, numbers and workers are left out."""
    body = health_body(await rq.health())
    return body if visible is everything else scoped_health(body, visible)


async def queue_names(rq: RedisQ, visible: Visible = everything) -> list[str]:
    """Every queue, sorted: those Redis knows (something was enqueued there) and those a registered task
    uses, of those `visible` lets the request see (access per queue, scope.py)."""
    return sorted(q for q in {*await rq.known_queues(), *(t.queue for t in rq.tasks.values())} if visible(q))


async def me(rq: RedisQ, grant: Grant) -> dict[str, Any]:
    """`/_me`: the level granted (the highest, with access per queue), and per queue when it is granted
    per queue: `{"access": "admin", "queues": {"emails": "admin", "reports": "read"}}` (null: every queue
    at `access`). Only queues the request may see are named."""
    if grant.scope is None:
        return {"access": grant.level.value, "queues": None}
    levels = {name: grant.for_queue(name) for name in await queue_names(rq)}
    return {"access": grant.level.value, "queues": {n: a.value for n, a in levels.items() if a is not None}}


async def list_queues(rq: RedisQ, visible: Visible = everything) -> QueueList:
    names = await queue_names(rq, visible)
    return {  # one round trip
        "queues": [queue_summary(s, limit_bodies(rq, s.queue)) for s in await rq.stats_many(names)]
    }


async def queue_stats(rq: RedisQ, queue: str) -> QueueSummary:
    await require_queue(rq, queue)
    return queue_summary(await rq.stats(queue), limit_bodies(rq, queue))


async def _total(rq: RedisQ, queue: str, state: JobState) -> int:
    gauges = await rq.stats(queue)
    by_state = {
        JobState.QUEUED: gauges.queued + gauges.limited,  # the listing shows both
        JobState.SCHEDULED: gauges.scheduled,
        JobState.ACTIVE: gauges.active,
        JobState.DEAD: gauges.dead,
        JobState.SUCCEEDED: gauges.succeeded_kept,
        JobState.WAITING: gauges.waiting,  # missing, the Waiting tab's listing was a 500 (KeyError)
    }
    return by_state[state]


async def list_jobs(
    rq: RedisQ, queue: str, page: PageRequest, job_filter: JobFilter | None = None
) -> JobPage:
    """One page read from the state's index; the total comes from the gauges. With a filter, a page of the
    matches from a bounded search of that index (search.py), which says how far it went."""
    await require_queue(rq, queue)
    if job_filter is not None and not job_filter.is_empty:
        return await filtered_page(
            rq, queue, page.state, page.offset, page.limit, page.newest_first, job_filter
        )
    infos, total = await asyncio.gather(
        rq.jobs(queue, page.state, page.offset, page.limit, page.newest_first), _total(rq, queue, page.state)
    )
    return {
        "items": [job_body(info) for info in infos],
        "state": page.state.value,
        "order": "newest" if page.newest_first else "oldest",
        "offset": page.offset,
        "limit": page.limit,
        "total": total,
    }


def _job(rq: RedisQ, queue: str, uid: str) -> Job:
    # A uid never holds the separator: with one, the id would name another queue's job.
    if not uid or ID_SEPARATOR in uid:
        raise InvalidJobId(f"no job {uid!r} in queue {queue!r}")
    return Job.from_parts(rq, queue, uid)


async def job_detail(rq: RedisQ, queue: str, uid: str) -> JobBody:
    return job_body(await _job(rq, queue, uid).info())


async def job_action(rq: RedisQ, queue: str, uid: str, action: JobAction) -> JobActionDone:
    """Run one action; the core answers False when the job's state does not allow it (a 409)."""
    job = _job(rq, queue, uid)
    run = {
        "retry": job.retry,
        "cancel": job.cancel,
        "promote": job.promote,
        "delete": job.delete,
        "abort": job.abort,
    }[action]
    if not await run():
        state = (await job.info()).state.value
        raise ActionNotAllowed(f"cannot {action} job {job.id}: it is {state}", state=state)
    return {"id": job.id, "action": _DONE[action]}


async def retry_job(rq: RedisQ, queue: str, uid: str, body: object | None) -> JobActionDone:
    """`POST .../retry`. Without a body (or with `null`), the `retry` action: a dead job, or one waiting
    for its next attempt, runs again. With `{"args", "kwargs"}`, a dead job runs again with these
    arguments, checked against its task's signature and the size limit as an enqueue's are (422, 413),
    under its own id and with its history (core/retry_edit.py); any other state is a 409."""
    if body is None:
        return await job_action(rq, queue, uid, "retry")
    args, kwargs = retry_arguments(body)
    job = _job(rq, queue, uid)
    if not await job.retry_with(args, kwargs):
        state = (await job.info()).state.value
        raise ActionNotAllowed(
            f"cannot edit and retry job {job.id}: it is {state}; only a dead job's arguments can be edited",
            state=state,
        )
    return {"id": job.id, "action": _DONE["retry"]}


async def requeue_dead(rq: RedisQ, queue: str) -> Requeued:
    await require_queue(rq, queue)
    return {"requeued": await rq.requeue_dead(queue)}


async def purge(rq: RedisQ, queue: str, state: str | None) -> Purged:
    chosen = purge_state(state)
    await require_queue(rq, queue)
    return {"deleted": await rq.purge(queue, chosen)}


async def set_paused(rq: RedisQ, queue: str, paused: bool) -> PauseState:
    await require_queue(rq, queue)
    await (rq.pause(queue) if paused else rq.resume(queue))
    return {"queue": queue, "paused": paused}


async def enqueue(rq: RedisQ, queue: str, body: object) -> Enqueued:
    """Enqueue a registered task by name on this queue; its arguments are checked against its signature."""
    request = enqueue_request(body)
    await require_queue(rq, queue)
    options: dict[str, Any] = {"queue": queue}
    if request.delay_s:
        options["delay_s"] = request.delay_s
    if request.priority is not None:
        options["priority"] = request.priority
    # TaskNotFound, InvalidArguments (also for a keyword that collides with call()'s own parameters)
    spec = rq.call_by_name(request.task, request.args, request.kwargs, **options)
    job = (await rq.enqueue_many([spec]))[0]
    return {"id": job.id, "queue": job.queue, "task": request.task, "created": job.created}
