"""The `/queues` admin JSON API as a Flask blueprint, answering exactly as the ASGI adapters do.

The handlers, the access rules and the error table are the framework-free admin layer's (`redisq.admin`),
the same the ASGI adapters use; the async handlers run on the app's loop thread (bridge.py), so one
implementation serves Starlette, FastAPI and Flask, and a contract test holds their JSON identical.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, cast

import orjson
from flask import Blueprint, Request, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from redisq.admin import actions, backlog, bulk, history, redis_page, schedules, search, workflows
from redisq.admin.access import Access, AccessPolicy, Grant, check_auth_callable, require_json
from redisq.admin.errors import BodyTooLarge, allowed_methods, error_response, http_error
from redisq.admin.metrics import MetricsRoute
from redisq.core.client import RedisQ as Client

from .dashboard import FlaskDashboard
from .extension import AppState

AuthCallable = Callable[[Request], Any]  # returns Access | bool | None (a coroutine is awaited too)


def _headers() -> Mapping[str, str]:
    return cast(Mapping[str, str], request.headers)  # case-insensitive, as the checks expect


_ANY_METHOD = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def _wrong_method(methods: list[str]) -> Callable[..., Response]:
    def wrong_method(**params: str) -> Response:
        status, body = http_error(405, "Method Not Allowed")
        response = _json(body, status)
        response.headers["Allow"] = allowed_methods(methods)
        return response

    return wrong_method


def _options(methods: list[str]) -> Callable[..., Response]:
    # Flask's automatic OPTIONS would list the methods of every rule of the path, the 405 rule's too.
    def options(**params: str) -> Response:
        return Response(status=204, headers={"Allow": allowed_methods(methods)})

    return options


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def admin_blueprint(
    *,
    auth: AuthCallable | None = None,
    allow_anonymous: Access | str | bool = False,
    trusted_origins: Iterable[str] = (),
    name: str = "redisq_admin",
    dashboard_interval_s: float = 1.0,
) -> Blueprint:
    """`app.register_blueprint(redisq.admin_blueprint(auth=...), url_prefix="/queues")`; the routes and the
    access contract are those of `admin_app` (see `redisq.admin.access`): it refuses everyone until
    `auth` or `allow_anonymous` is given. `auth(request)` is called with Flask's request. The dashboard's
    streams hold a server thread each while open (see `dashboard.py`)."""
    check_auth_callable(auth, "Flask's request")
    blueprint = Blueprint(name, __name__)
    dashboard = FlaskDashboard(dashboard_interval_s)
    # Per client (one per app): the body limit follows the client's payload limit.
    policies: weakref.WeakKeyDictionary[Client, AccessPolicy] = weakref.WeakKeyDictionary()
    metrics_routes: weakref.WeakKeyDictionary[Client, MetricsRoute] = weakref.WeakKeyDictionary()

    def state() -> AppState:
        found: AppState = current_app.extensions["redisq"]
        return found

    def policy(client: Client) -> AccessPolicy:
        if client not in policies:
            policies[client] = AccessPolicy.build(
                has_auth=auth is not None,
                allow_anonymous=allow_anonymous,
                trusted_origins=trusted_origins,
                max_body_bytes=actions.max_body_bytes(client),
            )
        return policies[client]

    def granted() -> object:
        if auth is None:
            return None
        result = auth(request)
        return state().bridge.run(result) if inspect.iscoroutine(result) else result

    def guarded(
        view: Callable[..., Response],
        needed: Access,
        query: tuple[str, ...] | None = (),
        every_queue: bool = False,
    ) -> Callable[..., Response]:
        """`view(state, grant, **params)` behind the access checks, its errors answered as JSON. `query`:
        the parameters it takes (others are a 422); None for the dashboard's page, files and streams.
        A queue's routes are checked on that queue (access per queue, redisq.admin.scope); `every_queue`:
        a route about the whole server. The grant is kept in `g` for the routes over every queue."""

        def run(**params: str) -> Response:
            current = state()
            rules = policy(current.client)
            try:
                rules.check_request(request.method, request.scheme, _headers())
                g.redisq_grant = rules.grant(granted(), needed, params.get("queue"), every_queue)
                if query is not None and not (view is overview and dashboard.wants_page()):
                    actions.check_query(request.args.keys(), query)
                return view(current, g.redisq_grant, **params)
            except Exception as exc:
                mapped = error_response(exc)
                if mapped is None:
                    raise
                return _json(mapped[1], mapped[0])

        run.__name__ = view.__name__
        return run

    def endpoint(
        handler: Callable[..., Coroutine[Any, Any, Any]],
        needed: Access,
        status_for: Callable[[Any], int] = lambda body: 200,
        query: tuple[str, ...] = (),
        every_queue: bool = False,
    ) -> Callable[..., Response]:
        def view(current: AppState, grant: Grant, **params: str) -> Response:
            body = current.bridge.run(handler(current.client, **params))
            return _json(body, status_for(body))

        view.__name__ = handler.__name__
        return guarded(view, needed, query, every_queue)

    def grant() -> Grant:
        """What `guarded` granted this request (in the view's thread, where `g` lives)."""
        found: Grant = g.redisq_grant
        return found

    def overview(current: AppState, grant: Grant) -> Response:
        if dashboard.wants_page():
            return dashboard.page()
        return _json(current.bridge.run(actions.list_queues(current.client, grant.visible)))

    def metrics(current: AppState, grant: Grant) -> Response:
        route = metrics_routes.setdefault(current.client, MetricsRoute(current.client))
        body, content_type = current.bridge.run(route.render(request.headers.get("accept")))
        return Response(body, headers={"content-type": content_type, "cache-control": "no-store"})

    def me(current: AppState, grant: Grant) -> Response:
        return _json(current.bridge.run(actions.me(current.client, grant)))

    def static(current: AppState, grant: Grant, file: str) -> Response:
        return dashboard.static(file)

    def events(current: AppState, grant: Grant) -> Response:
        return dashboard.events(current, grant.visible)

    def job_events(current: AppState, grant: Grant, queue: str, uid: str) -> Response:
        return dashboard.job_events(current, queue, uid)

    # Each of these runs in the view's thread, where `request` lives, and returns the handler's coroutine
    # for the loop thread to run.
    def health(rq: Client) -> Coroutine[Any, Any, Any]:
        return actions.health_report(rq, grant().visible)

    def queue_stats(rq: Client, queue: str) -> Coroutine[Any, Any, Any]:
        return actions.queue_stats(rq, queue)

    def list_jobs(rq: Client, queue: str) -> Coroutine[Any, Any, Any]:
        q = request.args
        page = actions.page_request(q.get("state"), q.get("offset"), q.get("limit"), q.get("order"))
        return actions.list_jobs(rq, queue, page, search.job_filter(q))

    def read_body(rq: Client) -> bytes:
        limit = policy(rq).max_body_bytes
        # A chunked body states no size: read one byte past the limit. Werkzeug hides a chunked body unless
        # the server marks its input terminated (gunicorn does, WSGI-on-ASGI bridges may not); both end it.
        stream = request.environ["wsgi.input"] if request.content_length is None else request.stream
        raw: bytes = stream.read(limit + 1)
        if len(raw) > limit:
            raise BodyTooLarge(f"request body over {limit} bytes")
        return raw

    def json_body(rq: Client) -> Any:
        require_json(_headers())
        return actions.parse_json(read_body(rq))

    def retry(rq: Client, queue: str, uid: str) -> Coroutine[Any, Any, Any]:
        # An optional body: check_request asked for JSON if there is one, and none is today's retry. A
        # request that announces no body is not read (its input might never end).
        announced = bool(request.content_length) or bool(request.headers.get("transfer-encoding"))
        raw = read_body(rq) if announced else b""
        return actions.retry_job(rq, queue, uid, actions.parse_json(raw) if raw else None)

    def enqueue(rq: Client, queue: str) -> Coroutine[Any, Any, Any]:
        return actions.enqueue(rq, queue, json_body(rq))

    def list_schedules(rq: Client) -> Coroutine[Any, Any, Any]:
        return schedules.list_schedules(rq, grant())

    def schedule_detail(rq: Client, schedule_id: str) -> Coroutine[Any, Any, Any]:
        return schedules.schedule_detail(rq, schedule_id, grant())

    def put_schedule(rq: Client, schedule_id: str) -> Coroutine[Any, Any, Any]:
        return schedules.put_schedule(rq, schedule_id, json_body(rq), grant())

    def schedule_action(action: schedules.ScheduleAction) -> Callable[..., Coroutine[Any, Any, Any]]:
        def act(rq: Client, schedule_id: str) -> Coroutine[Any, Any, Any]:
            return schedules.schedule_action(rq, schedule_id, action, grant())

        act.__name__ = f"schedule_{action}"
        return act

    def run_schedule(rq: Client, schedule_id: str) -> Coroutine[Any, Any, Any]:
        return schedules.run_schedule(rq, schedule_id, grant())

    def redis_detail(rq: Client) -> Coroutine[Any, Any, Any]:
        return redis_page.redis_detail(rq)

    def workflow_detail(rq: Client, workflow_id: str) -> Coroutine[Any, Any, Any]:
        return workflows.workflow_detail(rq, workflow_id, grant())

    def system_history(rq: Client) -> Coroutine[Any, Any, Any]:
        return history.system_history(rq, request.args.get("range"), grant())

    def queue_history(rq: Client, queue: str) -> Coroutine[Any, Any, Any]:
        return history.queue_history(rq, queue, request.args.get("range"), request.args.get("task"))

    def schedule_created(body: Any) -> int:
        return 201 if body["change"] == "created" else 200

    def purge(rq: Client, queue: str) -> Coroutine[Any, Any, Any]:
        return actions.purge(rq, queue, request.args.get("state"))

    def job_detail(rq: Client, queue: str, uid: str) -> Coroutine[Any, Any, Any]:
        return actions.job_detail(rq, queue, uid)

    def job_action(action: actions.JobAction) -> Callable[..., Coroutine[Any, Any, Any]]:
        def act(rq: Client, queue: str, uid: str) -> Coroutine[Any, Any, Any]:
            return actions.job_action(rq, queue, uid, action)

        act.__name__ = f"job_{action}"
        return act

    def bulk_jobs(rq: Client, queue: str) -> Coroutine[Any, Any, Any]:
        return bulk.bulk(rq, queue, json_body(rq))

    def requeue_dead(rq: Client, queue: str) -> Coroutine[Any, Any, Any]:
        return actions.requeue_dead(rq, queue)

    def pause(rq: Client, queue: str) -> Coroutine[Any, Any, Any]:
        return actions.set_paused(rq, queue, True)

    def resume(rq: Client, queue: str) -> Coroutine[Any, Any, Any]:
        return actions.set_paused(rq, queue, False)

    def queue_backlog(rq: Client, queue: str) -> Coroutine[Any, Any, Any]:
        return backlog.backlog(rq, queue, request.args.get("drain_s"))

    def tier_backlog(rq: Client) -> Coroutine[Any, Any, Any]:
        return backlog.tier_backlog(rq, request.args.get("queues"), request.args.get("drain_s"), grant())

    def created_or_found(body: Any) -> int:
        return 201 if body["created"] else 200

    read, admin = Access.READ, Access.ADMIN
    routes: list[tuple[str, str, Callable[..., Response]]] = [
        ("/", "GET", guarded(overview, read)),
        # Before "/<queue>", which would take them (queue names cannot start with "_").
        ("/_me", "GET", guarded(me, read)),
        ("/_health", "GET", endpoint(health, read)),
        ("/_backlog", "GET", endpoint(tier_backlog, read, query=backlog.TIER_PARAMS)),
        ("/_metrics", "GET", guarded(metrics, read, query=None, every_queue=True)),
        ("/_events", "GET", guarded(events, read, query=None)),
        ("/_static/<file>", "GET", guarded(static, read, query=None)),
        ("/_schedules", "GET", endpoint(list_schedules, read)),
        ("/_workflows/<workflow_id>", "GET", endpoint(workflow_detail, read)),
        ("/_redis", "GET", endpoint(redis_detail, read, every_queue=True)),
        ("/_history", "GET", endpoint(system_history, read, query=history.HISTORY_PARAMS)),
        ("/_schedules/<schedule_id>", "GET", endpoint(schedule_detail, read)),
        ("/_schedules/<schedule_id>", "PUT", endpoint(put_schedule, admin, schedule_created)),
        ("/_schedules/<schedule_id>", "DELETE", endpoint(schedule_action("delete"), admin)),
        ("/_schedules/<schedule_id>/pause", "POST", endpoint(schedule_action("pause"), admin)),
        ("/_schedules/<schedule_id>/resume", "POST", endpoint(schedule_action("resume"), admin)),
        ("/_schedules/<schedule_id>/run", "POST", endpoint(run_schedule, admin)),
        ("/<queue>", "GET", endpoint(queue_stats, read)),
        ("/<queue>/jobs", "GET", endpoint(list_jobs, read, query=actions.LIST_PARAMS)),
        ("/<queue>/jobs", "POST", endpoint(enqueue, admin, created_or_found)),
        ("/<queue>/jobs", "DELETE", endpoint(purge, admin, query=actions.PURGE_PARAMS)),
        ("/<queue>/jobs/<uid>", "GET", endpoint(job_detail, read)),
        ("/<queue>/jobs/<uid>/events", "GET", guarded(job_events, read, query=None)),
        ("/<queue>/jobs/<uid>", "DELETE", endpoint(job_action("delete"), admin)),
        ("/<queue>/jobs/<uid>/retry", "POST", endpoint(retry, admin)),
        ("/<queue>/jobs/<uid>/cancel", "POST", endpoint(job_action("cancel"), admin)),
        ("/<queue>/jobs/<uid>/promote", "POST", endpoint(job_action("promote"), admin)),
        ("/<queue>/jobs/<uid>/abort", "POST", endpoint(job_action("abort"), admin)),
        ("/<queue>/dead/requeue", "POST", endpoint(requeue_dead, admin)),
        ("/<queue>/bulk", "POST", endpoint(bulk_jobs, admin)),
        ("/<queue>/pause", "POST", endpoint(pause, admin)),
        ("/<queue>/resume", "POST", endpoint(resume, admin)),
        ("/<queue>/backlog", "GET", endpoint(queue_backlog, read, query=backlog.BACKLOG_PARAMS)),
        ("/<queue>/history", "GET", endpoint(queue_history, read, query=history.QUEUE_HISTORY_PARAMS)),
    ]
    allowed: dict[str, list[str]] = {}
    for rule, method, view in routes:
        name = f"{view.__name__}_{method.lower()}"
        blueprint.add_url_rule(
            rule, name, view, methods=[method], strict_slashes=False, provide_automatic_options=False
        )
        allowed.setdefault(rule, []).append(method)
    # Werkzeug answers a wrong method before any blueprint handler could shape it: answer it here instead.
    for number, (rule, methods) in enumerate(allowed.items()):
        others = sorted(_ANY_METHOD - set(methods))
        blueprint.add_url_rule(
            rule,
            f"wrong_method_{number}",
            _wrong_method(methods),
            methods=others,
            strict_slashes=False,
            provide_automatic_options=False,
        )
        blueprint.add_url_rule(
            rule, f"options_{number}", _options(methods), methods=["OPTIONS"], strict_slashes=False
        )

    @blueprint.errorhandler(HTTPException)
    def routing_error(exc: HTTPException) -> Response:
        status, body = http_error(exc.code or 500, exc.description or "")
        return _json(body, status)

    return blueprint
