"""The admin API's route table for the adapters whose views are sync (Flask, Django): one list of every route
with its method, the access it needs, the query parameters it takes and its handler.

A JSON route's handler is `handler(rq, call, **path_params)` and returns the coroutine that answers it; the
adapter runs that on its loop thread (redisq/integrations/bridge.py), after the access checks, and maps
errors with `redisq.admin.errors`. `call` is what the handler may read of the request (`Call`), so the
handlers hold no framework's request object. A route without a handler (`view` names it: the page or queue
list, `/_me`, `/_metrics`, the streams, the static files) is answered by the adapter's own view.

The order matters to routers that try rules in turn: the `/_...` routes come before `/<queue>`, which would
take them (a queue's name cannot start with "_").
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from redisq.core.client import RedisQ

from . import actions, backlog, bulk, history, redis_page, schedules, search, workflows
from .access import Access, Grant

Answer = Coroutine[Any, Any, Any]


@dataclass(frozen=True)
class Call:
    """One request, as the handlers see it."""

    query: Mapping[str, str]  # the query string's parameters (the first value of each)
    grant: Grant  # what the access checks granted (access per queue: what it may see)
    json_body: Callable[[], Any]  # the body, checked to be JSON under the size limit, parsed
    optional_json_body: Callable[[], Any]  # the same, or None when the request announces no body


def _ok(body: Any) -> int:
    return 200


def _created(body: Any) -> int:
    return 201 if body["created"] else 200


def _schedule_created(body: Any) -> int:
    return 201 if body["change"] == "created" else 200


@dataclass(frozen=True)
class Route:
    rule: str  # with `<name>` path parameters: "/<queue>/jobs/<uid>"
    method: str
    needed: Access
    handler: Callable[..., Answer] | None = None
    view: str = ""  # a route the adapter answers itself: "overview", "me", "metrics", "events", ...
    query: tuple[str, ...] | None = ()  # the parameters it takes (others: a 422); None: not checked
    status_for: Callable[[Any], int] = _ok
    every_queue: bool = False  # about the whole server: needs access to every queue

    @property
    def name(self) -> str:
        base = self.handler.__name__.lstrip("_") if self.handler is not None else self.view
        return f"{base}_{self.method.lower()}"


def _health(rq: RedisQ, call: Call) -> Answer:
    return actions.health_report(rq, call.grant.visible)


def _queue_stats(rq: RedisQ, call: Call, queue: str) -> Answer:
    return actions.queue_stats(rq, queue)


def _list_jobs(rq: RedisQ, call: Call, queue: str) -> Answer:
    q = call.query
    page = actions.page_request(q.get("state"), q.get("offset"), q.get("limit"), q.get("order"))
    return actions.list_jobs(rq, queue, page, search.job_filter(q))


def _enqueue(rq: RedisQ, call: Call, queue: str) -> Answer:
    return actions.enqueue(rq, queue, call.json_body())


def _purge(rq: RedisQ, call: Call, queue: str) -> Answer:
    return actions.purge(rq, queue, call.query.get("state"))


def _job_detail(rq: RedisQ, call: Call, queue: str, uid: str) -> Answer:
    return actions.job_detail(rq, queue, uid)


def _retry(rq: RedisQ, call: Call, queue: str, uid: str) -> Answer:
    # An optional body: {args, kwargs} re-runs a dead job with new arguments; none is a plain retry.
    return actions.retry_job(rq, queue, uid, call.optional_json_body())


def _job_action(action: actions.JobAction) -> Callable[..., Answer]:
    def act(rq: RedisQ, call: Call, queue: str, uid: str) -> Answer:
        return actions.job_action(rq, queue, uid, action)

    act.__name__ = f"job_{action}"
    return act


def _requeue_dead(rq: RedisQ, call: Call, queue: str) -> Answer:
    return actions.requeue_dead(rq, queue)


def _bulk(rq: RedisQ, call: Call, queue: str) -> Answer:
    return bulk.bulk(rq, queue, call.json_body())


def _pause(rq: RedisQ, call: Call, queue: str) -> Answer:
    return actions.set_paused(rq, queue, True)


def _resume(rq: RedisQ, call: Call, queue: str) -> Answer:
    return actions.set_paused(rq, queue, False)


def _queue_backlog(rq: RedisQ, call: Call, queue: str) -> Answer:
    return backlog.backlog(rq, queue, call.query.get("drain_s"))


def _tier_backlog(rq: RedisQ, call: Call) -> Answer:
    return backlog.tier_backlog(rq, call.query.get("queues"), call.query.get("drain_s"), call.grant)


def _list_schedules(rq: RedisQ, call: Call) -> Answer:
    return schedules.list_schedules(rq, call.grant)


def _schedule_detail(rq: RedisQ, call: Call, schedule_id: str) -> Answer:
    return schedules.schedule_detail(rq, schedule_id, call.grant)


def _put_schedule(rq: RedisQ, call: Call, schedule_id: str) -> Answer:
    return schedules.put_schedule(rq, schedule_id, call.json_body(), call.grant)


def _schedule_action(action: schedules.ScheduleAction) -> Callable[..., Answer]:
    def act(rq: RedisQ, call: Call, schedule_id: str) -> Answer:
        return schedules.schedule_action(rq, schedule_id, action, call.grant)

    act.__name__ = f"schedule_{action}"
    return act


def _run_schedule(rq: RedisQ, call: Call, schedule_id: str) -> Answer:
    return schedules.run_schedule(rq, schedule_id, call.grant)


def _redis_detail(rq: RedisQ, call: Call) -> Answer:
    return redis_page.redis_detail(rq)


def _workflow_detail(rq: RedisQ, call: Call, workflow_id: str) -> Answer:
    return workflows.workflow_detail(rq, workflow_id, call.grant)


def _system_history(rq: RedisQ, call: Call) -> Answer:
    return history.system_history(rq, call.query.get("range"), call.grant)


def _queue_history(rq: RedisQ, call: Call, queue: str) -> Answer:
    return history.queue_history(rq, queue, call.query.get("range"), call.query.get("task"))


_READ, _ADMIN = Access.READ, Access.ADMIN

ROUTES: tuple[Route, ...] = (
    Route("/", "GET", _READ, view="overview"),  # the dashboard's page for a browser, else the queue list
    Route("/_me", "GET", _READ, view="me"),
    Route("/_health", "GET", _READ, _health),
    Route("/_backlog", "GET", _READ, _tier_backlog, query=backlog.TIER_PARAMS),
    Route("/_metrics", "GET", _READ, view="metrics", query=None, every_queue=True),
    Route("/_events", "GET", _READ, view="events", query=None),
    Route("/_static/<file>", "GET", _READ, view="static", query=None),
    Route("/_schedules", "GET", _READ, _list_schedules),
    Route("/_workflows/<workflow_id>", "GET", _READ, _workflow_detail),
    Route("/_redis", "GET", _READ, _redis_detail, every_queue=True),
    Route("/_history", "GET", _READ, _system_history, query=history.HISTORY_PARAMS),
    Route("/_schedules/<schedule_id>", "GET", _READ, _schedule_detail),
    Route("/_schedules/<schedule_id>", "PUT", _ADMIN, _put_schedule, status_for=_schedule_created),
    Route("/_schedules/<schedule_id>", "DELETE", _ADMIN, _schedule_action("delete")),
    Route("/_schedules/<schedule_id>/pause", "POST", _ADMIN, _schedule_action("pause")),
    Route("/_schedules/<schedule_id>/resume", "POST", _ADMIN, _schedule_action("resume")),
    Route("/_schedules/<schedule_id>/run", "POST", _ADMIN, _run_schedule),
    Route("/<queue>", "GET", _READ, _queue_stats),
    Route("/<queue>/jobs", "GET", _READ, _list_jobs, query=actions.LIST_PARAMS),
    Route("/<queue>/jobs", "POST", _ADMIN, _enqueue, status_for=_created),
    Route("/<queue>/jobs", "DELETE", _ADMIN, _purge, query=actions.PURGE_PARAMS),
    Route("/<queue>/jobs/<uid>", "GET", _READ, _job_detail),
    Route("/<queue>/jobs/<uid>/events", "GET", _READ, view="job_events", query=None),
    Route("/<queue>/jobs/<uid>", "DELETE", _ADMIN, _job_action("delete")),
    Route("/<queue>/jobs/<uid>/retry", "POST", _ADMIN, _retry),
    Route("/<queue>/jobs/<uid>/cancel", "POST", _ADMIN, _job_action("cancel")),
    Route("/<queue>/jobs/<uid>/promote", "POST", _ADMIN, _job_action("promote")),
    Route("/<queue>/jobs/<uid>/abort", "POST", _ADMIN, _job_action("abort")),
    Route("/<queue>/dead/requeue", "POST", _ADMIN, _requeue_dead),
    Route("/<queue>/bulk", "POST", _ADMIN, _bulk),
    Route("/<queue>/pause", "POST", _ADMIN, _pause),
    Route("/<queue>/resume", "POST", _ADMIN, _resume),
    Route("/<queue>/backlog", "GET", _READ, _queue_backlog, query=backlog.BACKLOG_PARAMS),
    Route("/<queue>/history", "GET", _READ, _queue_history, query=history.QUEUE_HISTORY_PARAMS),
)


def methods_by_rule() -> dict[str, list[str]]:
    """Each rule's methods, in the table's order (for 405's Allow and OPTIONS)."""
    found: dict[str, list[str]] = {}
    for route in ROUTES:
        found.setdefault(route.rule, []).append(route.method)
    return found
