"""The `/queues` admin JSON API, the dashboard and its streams as Django views, answered as on every adapter.

The route table, the handlers, the access rules and the error table are the admin layer's (`redisq.admin`),
the same that Starlette, FastAPI and Flask use; a contract test holds the four identical. The views are
sync: under WSGI they run in the server's threads, under ASGI Django runs each in a thread of its own.
Either way the async handlers run on the mount's loop thread (redisq/integrations/bridge.py), so every
request of the process shares one connection pool. Only the streams differ by server: an async iterator on
the server's loop under ASGI, a generator in the request's thread under WSGI (redisq/dashboard/feed_stream).

Access: `auth(request)` answers as for the other adapters (Access, QueueAccess, True/None); by default staff
users are admins and anyone else is refused, and a browser that is not logged in is sent to LOGIN_URL for
the dashboard's page. Writes are guarded as on every adapter (same-origin or a trusted origin, JSON bodies:
see `redisq.admin.access`), in place of Django's CSRF token, which the dashboard's page does not carry.
"""

from __future__ import annotations

import inspect
import re
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, cast

import orjson
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt

from redisq.admin import actions, routes
from redisq.admin.access import Access, Grant, PolicyPerClient, check_auth_callable, require_json
from redisq.admin.errors import BodyTooLarge, NotAuthenticated, allowed_methods, error_response, http_error
from redisq.admin.metrics import MetricsRoute
from redisq.core.client import RedisQ
from redisq.dashboard import page, sse
from redisq.dashboard.feed_stream import BridgedDashboard, FeedStream
from redisq.integrations.bridge import LoopThread

from .state import client as project_client

APP_NAME = "redisq"
AuthCallable = Callable[[HttpRequest], Any]  # returns Access | QueueAccess | bool | None, or a coroutine


def staff_access(request: HttpRequest) -> Access | None:
    """The default: an active staff user is an admin; anyone else is refused."""
    user = getattr(request, "user", None)
    if user is None:
        raise RuntimeError(
            "redisq's default admin access reads request.user: add "
            "django.contrib.auth.middleware.AuthenticationMiddleware to MIDDLEWARE, or give auth="
        )
    return Access.ADMIN if user.is_active and user.is_staff else None


def _json(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


def _error(status: int, detail: str) -> HttpResponse:
    status, body = http_error(status, detail)
    return _json(body, status)


def _file(found: page.FileAnswer) -> HttpResponse:
    return HttpResponse(found.body, status=found.status, headers=found.headers, content_type=found.media_type)


def _events(found: FeedStream | bytes, request: HttpRequest) -> HttpResponseBase:
    if isinstance(found, bytes):
        return HttpResponse(found, content_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
    body = found.on_loop() if isinstance(request, ASGIRequest) else found.in_thread()
    return StreamingHttpResponse(body, content_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


def _regex(rule: str) -> str:
    """ "/<queue>/jobs" -> "^(?P<queue>[^/]+)/jobs/?$" (under the include's prefix, which ends in "/")."""
    if rule == "/":
        return r"^$"
    return "^" + re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", rule.lstrip("/")) + "/?$"


def admin_urls(
    *,
    auth: AuthCallable | None = staff_access,
    allow_anonymous: Access | str | bool = False,
    trusted_origins: Iterable[str] = (),
    dashboard_interval_s: float = 1.0,
    client: RedisQ | None = None,
    login_redirect: bool | None = None,
) -> tuple[list[URLPattern], str]:
    """`path("queues/", include(admin_urls(auth=...)))`: the routes of `admin_app`, on `client` (default:
    the project's). `include("redisq.django.urls")` is this with the options of REDISQ["ADMIN"]. The root
    is named "redisq:dashboard" (`reverse("redisq:dashboard")`). `login_redirect`: a browser that is not
    logged in and asks for the page is sent to LOGIN_URL rather than answered 401 (default: with the
    default auth, which reads Django's login)."""
    check_auth_callable(auth, "Django's request")
    redirect = auth is staff_access if login_redirect is None else login_redirect
    dashboard = BridgedDashboard(dashboard_interval_s)
    bridge = LoopThread("redisq-django-admin")
    policies = PolicyPerClient(
        has_auth=auth is not None, allow_anonymous=allow_anonymous, trusted_origins=trusted_origins
    )
    metrics_routes: weakref.WeakKeyDictionary[RedisQ, MetricsRoute] = weakref.WeakKeyDictionary()

    def granted(request: HttpRequest) -> object:
        if auth is None:
            return None
        result = auth(request)
        # async_to_sync: an async auth's ORM calls (request.auser()) come back to this thread.
        return async_to_sync(_awaited)(result) if inspect.iscoroutine(result) else result

    def read_body(request: HttpRequest, rq: RedisQ) -> bytes:
        limit = policies.of(rq).max_body_bytes
        # Django reads no body without a Content-Length under WSGI: read a chunked one from the input.
        chunked_wsgi = not request.META.get("CONTENT_LENGTH") and "wsgi.input" in request.META
        stream = request.META["wsgi.input"] if chunked_wsgi else request
        raw: bytes = stream.read(limit + 1)
        if len(raw) > limit:
            raise BodyTooLarge(f"request body over {limit} bytes")
        return raw

    def call_of(request: HttpRequest, rq: RedisQ, grant: Grant) -> routes.Call:
        def json_body() -> Any:
            require_json(cast(Mapping[str, str], request.headers))
            return actions.parse_json(read_body(request, rq))

        def optional_json_body() -> Any:
            headers = request.headers
            announced = headers.get("content-length", "0").strip() not in ("", "0")
            raw = read_body(request, rq) if announced or headers.get("transfer-encoding") else b""
            return actions.parse_json(raw) if raw else None

        query = {name: request.GET[name] for name in request.GET}
        return routes.Call(query, grant, json_body, optional_json_body)

    def answer(
        request: HttpRequest, rq: RedisQ, route: routes.Route, grant: Grant, params: Any, wants_page: bool
    ) -> Any:
        if route.handler is not None:
            body = bridge.run(route.handler(rq, call_of(request, rq, grant), **params))
            return _json(body, route.status_for(body))
        if route.view == "overview":
            if wants_page:
                return page_response(request)
            return _json(bridge.run(actions.list_queues(rq, grant.visible)))
        if route.view == "me":
            return _json(bridge.run(actions.me(rq, grant)))
        if route.view == "metrics":
            renderer = metrics_routes.setdefault(rq, MetricsRoute(rq))
            body, content_type = bridge.run(renderer.render(request.headers.get("accept")))
            return HttpResponse(body, headers={"content-type": content_type, "cache-control": "no-store"})
        if route.view == "static":
            file = page.static_file(params["file"], request.headers.get("if-none-match"))
            return _error(404, "Not Found") if file is None else _file(file)
        if route.view == "events":
            return _events(dashboard.events(rq, bridge.loop, grant.visible), request)
        found = dashboard.job_events(rq, bridge.loop, bridge.run, params["queue"], params["uid"])
        return _events(found, request)

    def serve(request: HttpRequest, route: routes.Route, params: dict[str, str]) -> HttpResponseBase:
        rq = client or project_client()
        rules = policies.of(rq)
        wants_page = route.view == "overview" and page.prefers_html(request.headers.get("accept"))
        try:
            rules.check_request(request.method or "GET", request.scheme or "http", cast(Any, request.headers))
            grant = rules.grant(granted(request), route.needed, params.get("queue"), route.every_queue)
            if route.query is not None and not wants_page:
                actions.check_query(request.GET.keys(), route.query)
            response: HttpResponseBase = answer(request, rq, route, grant, params, wants_page)
            return response
        except Exception as exc:
            user = getattr(request, "user", None)
            anonymous = user is not None and not user.is_authenticated
            if redirect and wants_page and isinstance(exc, NotAuthenticated) and anonymous:
                # Imported here: auth's views import its models, which this module (imported by the app's
                # package, while the app registry fills) must not.
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            mapped = error_response(exc)
            if mapped is None:
                raise
            return _json(mapped[1], mapped[0])

    def rule_view(by_method: dict[str, routes.Route]) -> Callable[..., HttpResponseBase]:
        allow = allowed_methods(by_method)

        @csrf_exempt
        def view(request: HttpRequest, **params: str) -> HttpResponseBase:
            method = (request.method or "GET").upper()
            route = by_method.get("GET" if method == "HEAD" else method)
            if method == "OPTIONS":
                return HttpResponse(status=204, headers={"Allow": allow})
            if route is None:
                response = _error(405, "Method Not Allowed")
                response["Allow"] = allow
                return response
            return serve(request, route, params)

        return view

    by_rule: dict[str, dict[str, routes.Route]] = {}
    for route in routes.ROUTES:
        by_rule.setdefault(route.rule, {})[route.method] = route
    patterns = [
        re_path(_regex(rule), rule_view(by_method), name="dashboard" if rule == "/" else None)
        for rule, by_method in by_rule.items()
    ]
    patterns.append(re_path(r"", _not_found))  # below the mount, every answer is the API's JSON
    return patterns, APP_NAME


def page_response(request: HttpRequest) -> HttpResponse:
    location = page.slash_redirect(request.path, request.META.get("QUERY_STRING", ""))
    if location is not None:
        return HttpResponse(status=307, headers={"Location": location})
    found = page.page()
    if found is None:
        return _error(404, "the dashboard's files are not installed")
    return _file(found)


@csrf_exempt
def _not_found(request: HttpRequest) -> HttpResponse:
    return _error(404, "Not Found")


async def _awaited(value: Coroutine[Any, Any, Any]) -> Any:
    return await value
