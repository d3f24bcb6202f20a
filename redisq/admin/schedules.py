"""The admin API's periodic jobs (issue 12), free of any web framework: `M/_schedules...`.

GET    /_schedules                 every schedule, with next and last run
GET    /_schedules/{id}            one
PUT    /_schedules/{id}            create or replace one from JSON (origin "api"); 201 when created
DELETE /_schedules/{id}            delete one (a schedule declared in code comes back at a worker's start)
POST   /_schedules/{id}/pause|resume|run

Input is checked here once for every adapter, as `actions.enqueue_request` checks an enqueue: a task's
arguments must fit its signature (422 invalid_arguments), an unknown task is a 422 task_not_found, a bad
cron, time zone or interval a 422 invalid_parameter; an unknown id is a 404 schedule_not_found.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from typing import Any, Literal

from redisq.core.client import RedisQ
from redisq.core.errors import ConfigurationError, ScheduleNotFound
from redisq.core.schedules import CATCH_UP, check_schedule_id

from .access import Access, Grant, everything, require_level
from .actions import seconds_field, task_call_body
from .errors import InvalidParameter, QueueNotFound
from .payloads import ScheduleBody, ScheduleChanged, ScheduleList, ScheduleRun, schedule_body

ScheduleAction = Literal["pause", "resume", "delete"]
SCHEDULE_FIELDS = ("task", "cron", "every_s", "tz", "args", "kwargs", "queue", "start", "end", "catch_up")
MAX_EVERY_S = 10 * 365 * 86400


def _id(raw: str) -> str:
    """An id that could not be stored names no schedule."""
    try:
        return check_schedule_id(raw)
    except ConfigurationError:
        raise ScheduleNotFound(f"no schedule {raw!r}") from None


def _time(body: dict[str, Any], name: str) -> datetime | None:
    raw = body.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidParameter(f"{name} must be an ISO 8601 time, e.g. 2026-03-29T02:30:00Z", field=name)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    except ValueError:
        raise InvalidParameter(f"{name} is not an ISO 8601 time: {raw!r}", field=name) from None


def schedule_request(raw: object) -> dict[str, Any]:
    """The keyword arguments of `rq.schedules.upsert` from a request body, or InvalidParameter."""
    body, task, args, kwargs = task_call_body(raw, SCHEDULE_FIELDS)
    cron, every_s = body.get("cron"), body.get("every_s")
    if (cron is None) == (every_s is None):
        raise InvalidParameter("give exactly one of cron and every_s", field="cron")
    if cron is not None and not isinstance(cron, str):
        raise InvalidParameter("cron must be a cron expression such as '0 2 * * *'", field="cron")
    every_s = seconds_field(body, "every_s", 1, MAX_EVERY_S)
    for name in ("tz", "queue"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidParameter(f"{name} must be a string", field=name)
    catch_up = body.get("catch_up", "last")
    if catch_up not in CATCH_UP:
        raise InvalidParameter(f"catch_up must be one of {', '.join(CATCH_UP)}", field="catch_up")
    return {
        "task": task,
        "args": args,
        "kwargs": kwargs,
        "cron": cron,
        "every": every_s,
        "tz": body.get("tz"),
        "queue": body.get("queue"),
        "start": _time(body, "start"),
        "end": _time(body, "end"),
        "catch_up": catch_up,
    }


async def list_schedules(rq: RedisQ, grant: Grant | None = None) -> ScheduleList:
    visible = grant.visible if grant else everything
    return {"schedules": [schedule_body(s) for s in await rq.schedules.list() if visible(s.queue)]}


async def _visible(rq: RedisQ, sid: str, grant: Grant | None, needed: Access = Access.READ) -> ScheduleBody:
    """A schedule of a queue hidden from the request (access per queue, scope.py) is not found."""
    body = schedule_body(await rq.schedules.get(sid))
    if grant is not None:
        require_level(grant, body["queue"], needed, ScheduleNotFound(f"no schedule {sid!r}"))
    return body


async def schedule_detail(rq: RedisQ, schedule_id: str, grant: Grant | None = None) -> ScheduleBody:
    return await _visible(rq, _id(schedule_id), grant)


async def put_schedule(
    rq: RedisQ, schedule_id: str, body: object, grant: Grant | None = None
) -> ScheduleChanged:
    request = schedule_request(body)
    try:
        check_schedule_id(schedule_id)
    except ConfigurationError as exc:
        raise InvalidParameter(str(exc), field="id") from None
    task = request.pop("task")
    # TaskNotFound, or InvalidArguments exactly as the enqueue route says it
    spec = rq.call_by_name(task, request["args"], request["kwargs"])
    if grant is not None and not grant.every_queue:
        queue = request["queue"] or spec.queue
        require_level(grant, queue, Access.ADMIN, QueueNotFound(f"no queue {queue!r}"))
        with contextlib.suppress(ScheduleNotFound):  # one that exists now: its queue too
            await _visible(rq, schedule_id, grant, Access.ADMIN)
    try:
        change = await rq.schedules.upsert(task, id=schedule_id, **request)
    except ConfigurationError as exc:  # a cron, time zone, queue name or bound that cannot work
        field = next((n for n in ("cron", "tz", "queue", "end") if n in str(exc)), "body")
        raise InvalidParameter(str(exc), field=field) from None
    return {"schedule": await schedule_detail(rq, schedule_id), "change": change}


async def schedule_action(
    rq: RedisQ, schedule_id: str, action: ScheduleAction, grant: Grant | None = None
) -> ScheduleChanged:
    sid = _id(schedule_id)
    body = await _visible(rq, sid, grant, Access.ADMIN)
    if action == "delete":
        await rq.schedules.delete(sid, body["queue"])
        return {"schedule": body, "change": "deleted"}
    await (rq.schedules.pause(sid) if action == "pause" else rq.schedules.resume(sid))
    return {"schedule": await schedule_detail(rq, sid), "change": f"{action}d"}


async def run_schedule(rq: RedisQ, schedule_id: str, grant: Grant | None = None) -> ScheduleRun:
    sid = _id(schedule_id)
    await _visible(rq, sid, grant, Access.ADMIN)
    job = await rq.schedules.run_now(sid)
    return {"schedule": sid, "job": job.id}
