"""The `/queues` admin JSON API as a Flask blueprint, answering exactly as the ASGI adapters do.

The route table (`redisq.admin.routes`, shared with Django), the handlers, the access rules and the error
table are the framework-free admin layer's (`redisq.admin`), the same the ASGI adapters use; the async
handlers run on the app's loop thread (redisq/integrations/bridge.py), so one implementation serves
Starlette, FastAPI, Flask and Django, and a contract test holds their JSON identical.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, cast

import orjson
from flask import Blueprint, Request, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from redisq.admin import actions, routes
from redisq.admin.access import Access, Grant, PolicyPerClient, check_auth_callable, require_json
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
    policies = PolicyPerClient(
        has_auth=auth is not None, allow_anonymous=allow_anonymous, trusted_origins=trusted_origins
    )
    metrics_routes: weakref.WeakKeyDictionary[Client, MetricsRoute] = weakref.WeakKeyDictionary()

    def state() -> AppState:
        found: AppState = current_app.extensions["redisq"]
        return found

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
            rules = policies.of(current.client)
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

    def endpoint(route: routes.Route) -> Callable[..., Response]:
        handler = cast(Callable[..., Coroutine[Any, Any, Any]], route.handler)

        def view(current: AppState, grant: Grant, **params: str) -> Response:
            # The handler runs here, in the view's thread where `request` lives: it reads the body and
            # returns the coroutine for the loop thread to run.
            call = routes.Call(
                query=request.args,
                grant=grant,
                json_body=lambda: json_body(current.client),
                optional_json_body=lambda: optional_json_body(current.client),
            )
            body = current.bridge.run(handler(current.client, call, **params))
            return _json(body, route.status_for(body))

        view.__name__ = route.name
        return guarded(view, route.needed, route.query, route.every_queue)

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
        return dashboard.events_response(current, grant.visible)

    def job_events(current: AppState, grant: Grant, queue: str, uid: str) -> Response:
        return dashboard.job_events_response(current, queue, uid)

    views: dict[str, Callable[..., Response]] = {
        "overview": overview,
        "me": me,
        "metrics": metrics,
        "events": events,
        "static": static,
        "job_events": job_events,
    }

    def read_body(rq: Client) -> bytes:
        limit = policies.of(rq).max_body_bytes
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

    def optional_json_body(rq: Client) -> Any:
        # check_request asked for JSON if there is a body. A request that announces no body is not read
        # (its input might never end).
        announced = bool(request.content_length) or bool(request.headers.get("transfer-encoding"))
        raw = read_body(rq) if announced else b""
        return actions.parse_json(raw) if raw else None

    for route in routes.ROUTES:
        if route.handler is not None:
            view = endpoint(route)
        else:
            view = guarded(views[route.view], route.needed, route.query, route.every_queue)
        blueprint.add_url_rule(
            route.rule,
            route.name,
            view,
            methods=[route.method],
            strict_slashes=False,
            provide_automatic_options=False,
        )
    allowed = routes.methods_by_rule()
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
