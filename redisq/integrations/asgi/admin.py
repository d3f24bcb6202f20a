"""The `/queues` admin JSON API as a Starlette app: `app.mount("/queues", admin_app(rq, auth=...))`.

Routes are relative to wherever the app is mounted (a Starlette `Mount`, any prefix, a proxy's
`root_path`); the table is in `admin_app`. Each endpoint only extracts parameters, runs the access checks
(`redisq.admin.access`), calls a handler of `redisq.admin.actions` and turns errors into answers with
`redisq.admin.errors`.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from redisq.admin import actions, backlog, bulk, history, redis_page, schedules, search, workflows
from redisq.admin.access import Access, AccessPolicy, Grant, check_auth_callable, max_body_bytes, require_json
from redisq.admin.errors import allowed_methods, error_response, http_error
from redisq.admin.metrics import MetricsRoute
from redisq.admin.payloads import Enqueued, ScheduleChanged
from redisq.core.client import RedisQ
from redisq.dashboard.poller import Poller

from . import dashboard
from .protocol import limit_body

AuthCallable = Callable[[Request], Any]  # returns (or awaits to) Access | bool | None
Handler = Callable[[Request], Awaitable[Any]]


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Routing errors (no such route, wrong method) in the API's JSON shape, keeping e.g. `Allow`."""
    assert isinstance(exc, HTTPException)
    status, body = http_error(exc.status_code, exc.detail)
    return JSONResponse(body, status, headers=exc.headers)


def _auth_caller(auth: AuthCallable | None) -> Callable[[Request], Awaitable[object]]:
    """Call the app's auth callable: async ones on the loop, plain ones in a thread (they may do I/O)."""
    if auth is None:

        async def nobody(request: Request) -> object:
            return None

        return nobody
    # An object with an async __call__ is not seen as async here: it runs in a thread, which hands its
    # coroutine back to be awaited on the loop below. Slower, still right.
    is_async = inspect.iscoroutinefunction(auth)

    async def call(request: Request) -> object:
        result = auth(request) if is_async else await run_in_threadpool(auth, request)
        return await result if inspect.isawaitable(result) else result

    return call


ANY_METHOD = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method_routes(routes: list[Route]) -> list[Route]:
    """For each path: OPTIONS answers with every method the path serves, and any other method gets a
    405 whose `Allow` says the same (Starlette's own 405 names only the first route of a path, so
    `Allow: GET` where POST and DELETE also exist, issue 11)."""
    served: dict[str, set[str]] = {}
    for route in routes:
        served.setdefault(route.path, set()).update(route.methods or ())
    extra = []
    for path, methods in served.items():
        allow = allowed_methods(methods)

        async def options(request: Request, allow: str = allow) -> Response:
            return Response(status_code=204, headers={"allow": allow})

        async def wrong_method(request: Request, allow: str = allow) -> Response:
            status, body = http_error(405, "Method Not Allowed")
            return JSONResponse(body, status, headers={"allow": allow})

        extra.append(Route(path, options, methods=["OPTIONS"]))
        others = sorted(ANY_METHOD - methods - {"OPTIONS", "HEAD"})
        extra.append(Route(path, wrong_method, methods=others))
    return extra


def admin_app(
    rq: RedisQ,
    *,
    auth: AuthCallable | None = None,
    allow_anonymous: Access | str | bool = False,
    trusted_origins: Iterable[str] = (),
    dashboard_interval_s: float = 1.0,
) -> Starlette:
    """A new admin app for this client; it refuses everyone by default (see `redisq.admin.access`).

    GET    /                          every queue with its stats (a browser gets the dashboard's page)
    GET    /_me                       {"access": "read" | "admin"}
    GET    /_health                   the queues' health with every detail (workers, reasons)
    GET    /_backlog                  desired workers of a tier serving ?queues=a,b (default: all)
    GET    /_events                   the dashboard's stream (SSE), from one poller per app
    GET    /_static/{file}            the dashboard's files
    GET    /_metrics                  Prometheus metrics (needs redisq[prometheus]; see redisq.prometheus)
    GET    /_schedules                every periodic job; PUT|GET|DELETE /_schedules/{id}, and
    POST   /_schedules/{id}/pause|resume|run   (see redisq.admin.schedules)
    GET    /_workflows/{id}           a workflow's steps, states and edges (see redisq.admin.workflows)
    GET    /_redis                    each master's version, memory, eviction policy, persistence, slow log
    GET    /_history?range=           every queue's attempts, run times and waits over time (admin.history)
    GET    /{queue}/history?range=&task=   a queue's (or a task's) points, and each task's totals
    GET    /{queue}                   one queue's stats
    GET    /{queue}/jobs              one page: ?state=queued&offset=0&limit=50&order=newest, filtered by
                                      ?task=&q=&request_id=&error=&since=&until= (redisq.admin.search)
    POST   /{queue}/jobs              enqueue {"task", "args", "kwargs", "delay_s", "priority"} -> 201
    DELETE /{queue}/jobs?state=dead   purge one state
    GET    /{queue}/jobs/{uid}        one job
    DELETE /{queue}/jobs/{uid}        delete a job that is not running
    POST   /{queue}/jobs/{uid}/retry|cancel|promote   (retry: an optional {"args", "kwargs"} edits a dead job)
    POST   /{queue}/jobs/{uid}/abort  cancel a waiting job, or stop a running one (ends `aborted`)
    POST   /{queue}/dead/requeue      requeue every dead job
    POST   /{queue}/bulk              retry, requeue, cancel or delete a selection, or a batch of the jobs
                                      a filter matches (redisq.admin.bulk)
    POST   /{queue}/pause, /{queue}/resume
    GET    /{queue}/jobs/{uid}/events one job's changes (SSE) until its final state
    GET    /{queue}/backlog           backlog and desired workers, for autoscalers: ?drain_s=60

    The poller reads Redis every `dashboard_interval_s` while a stream is open. The app's lifespan stops
    it (when it runs: not for an app mounted in another Starlette app); it also stops by itself a few
    seconds after its last stream ends.
    """
    check_auth_callable(auth)
    policy = AccessPolicy.build(
        has_auth=auth is not None,
        allow_anonymous=allow_anonymous,
        trusted_origins=trusted_origins,
        max_body_bytes=max_body_bytes(rq),
    )
    call_auth = _auth_caller(auth)
    poller = Poller(rq, interval_s=dashboard_interval_s)
    metrics_route = MetricsRoute(rq)

    async def authorize(request: Request, needed: Access, every_queue: bool) -> Grant:
        """A queue's routes are checked on that queue (access per queue, redisq.admin.scope)."""
        policy.check_request(request.method, request.url.scheme, request.headers)
        queue = request.path_params.get("queue")
        return policy.grant(await call_auth(request), needed, queue, every_queue)

    def endpoint(
        handler: Handler,
        needed: Access,
        status_for: Callable[[Any], int] = lambda body: 200,
        query: tuple[str, ...] | None = (),
        every_queue: bool = False,
    ) -> Callable[[Request], Awaitable[Response]]:
        """`query`: the parameters the route takes (others are a 422); None for the dashboard's page,
        files and streams, which are not JSON routes. `every_queue`: a route about the whole server, for
        those granted every queue only."""

        async def run(request: Request) -> Response:
            try:
                request.state.redisq_grant = await authorize(request, needed, every_queue)
                if query is not None and not (handler is list_queues and dashboard.wants_page(request)):
                    actions.check_query(request.query_params.keys(), query)
                body = await handler(request)
            except Exception as exc:
                mapped = error_response(exc)
                if mapped is None:
                    raise
                return JSONResponse(mapped[1], mapped[0])
            if isinstance(body, Response):  # the dashboard's page, files and streams
                return body
            return JSONResponse(body, status_for(body))

        return run

    def queue(request: Request) -> str:
        return str(request.path_params["queue"])

    def grant(request: Request) -> Grant:
        found: Grant = request.state.redisq_grant  # what `endpoint` found
        return found

    def uid(request: Request) -> str:
        return str(request.path_params["uid"])

    async def list_queues(request: Request) -> Any:
        if dashboard.wants_page(request):
            return dashboard.page_response(request)
        return await actions.list_queues(rq, grant(request).visible)

    async def health(request: Request) -> Any:
        return await actions.health_report(rq, grant(request).visible)

    async def metrics(request: Request) -> Any:
        body, content_type = await metrics_route.render(request.headers.get("accept"))
        return Response(body, headers={"content-type": content_type, "cache-control": "no-store"})

    async def me(request: Request) -> Any:
        return await actions.me(rq, grant(request))

    async def static(request: Request) -> Any:
        return dashboard.static_response(request)

    async def events(request: Request) -> Any:
        return dashboard.events_response(poller, grant(request).visible)

    async def job_events(request: Request) -> Any:
        return await dashboard.job_events_response(rq, poller, queue(request), uid(request))

    async def queue_stats(request: Request) -> Any:
        return await actions.queue_stats(rq, queue(request))

    async def list_jobs(request: Request) -> Any:
        q = request.query_params
        page = actions.page_request(q.get("state"), q.get("offset"), q.get("limit"), q.get("order"))
        return await actions.list_jobs(rq, queue(request), page, search.job_filter(q))

    async def enqueue(request: Request) -> Any:
        require_json(request.headers)  # a body is required here, whatever its headers say of its length
        limited = Request(request.scope, limit_body(request.receive, policy.max_body_bytes))
        body = actions.parse_json(await limited.body())
        return await actions.enqueue(rq, queue(request), body)

    async def retry(request: Request) -> Any:
        # An optional body: check_request asked for JSON if there is one, and none is today's retry.
        raw = await Request(request.scope, limit_body(request.receive, policy.max_body_bytes)).body()
        body = actions.parse_json(raw) if raw else None
        return await actions.retry_job(rq, queue(request), uid(request), body)

    async def bulk_jobs(request: Request) -> Any:
        require_json(request.headers)
        limited = Request(request.scope, limit_body(request.receive, policy.max_body_bytes))
        return await bulk.bulk(rq, queue(request), actions.parse_json(await limited.body()))

    async def purge(request: Request) -> Any:
        return await actions.purge(rq, queue(request), request.query_params.get("state"))

    async def job_detail(request: Request) -> Any:
        return await actions.job_detail(rq, queue(request), uid(request))

    def job_action(action: actions.JobAction) -> Handler:
        async def act(request: Request) -> Any:
            return await actions.job_action(rq, queue(request), uid(request), action)

        return act

    async def requeue_dead(request: Request) -> Any:
        return await actions.requeue_dead(rq, queue(request))

    async def pause(request: Request) -> Any:
        return await actions.set_paused(rq, queue(request), True)

    async def resume(request: Request) -> Any:
        return await actions.set_paused(rq, queue(request), False)

    async def queue_backlog(request: Request) -> Any:
        return await backlog.backlog(rq, queue(request), request.query_params.get("drain_s"))

    async def tier_backlog(request: Request) -> Any:
        q = request.query_params
        return await backlog.tier_backlog(rq, q.get("queues"), q.get("drain_s"), grant(request))

    def schedule_id(request: Request) -> str:
        return str(request.path_params["schedule_id"])

    async def list_schedules(request: Request) -> Any:
        return await schedules.list_schedules(rq, grant(request))

    async def redis_detail(request: Request) -> Any:
        return await redis_page.redis_detail(rq)

    async def system_history(request: Request) -> Any:
        return await history.system_history(rq, request.query_params.get("range"), grant(request))

    async def queue_history(request: Request) -> Any:
        q = request.query_params
        return await history.queue_history(rq, queue(request), q.get("range"), q.get("task"))

    async def workflow_detail(request: Request) -> Any:
        return await workflows.workflow_detail(rq, str(request.path_params["workflow_id"]), grant(request))

    async def schedule_detail(request: Request) -> Any:
        return await schedules.schedule_detail(rq, schedule_id(request), grant(request))

    async def put_schedule(request: Request) -> Any:
        require_json(request.headers)
        limited = Request(request.scope, limit_body(request.receive, policy.max_body_bytes))
        body = actions.parse_json(await limited.body())
        return await schedules.put_schedule(rq, schedule_id(request), body, grant(request))

    def schedule_action(action: schedules.ScheduleAction) -> Handler:
        async def act(request: Request) -> Any:
            return await schedules.schedule_action(rq, schedule_id(request), action, grant(request))

        return act

    async def run_schedule(request: Request) -> Any:
        return await schedules.run_schedule(rq, schedule_id(request), grant(request))

    def created_or_found(body: Enqueued) -> int:
        return 201 if body["created"] else 200  # 200: a unique key matched, and this job already holds it

    def schedule_created(body: ScheduleChanged) -> int:
        return 201 if body["change"] == "created" else 200

    read, admin = Access.READ, Access.ADMIN
    routes = [
        Route("/", endpoint(list_queues, read), methods=["GET"]),
        # Before "/{queue}", which would take them (queue names cannot start with "_").
        Route("/_me", endpoint(me, read), methods=["GET"]),
        Route("/_health", endpoint(health, read), methods=["GET"]),
        Route("/_backlog", endpoint(tier_backlog, read, query=backlog.TIER_PARAMS), methods=["GET"]),
        Route("/_metrics", endpoint(metrics, read, query=None, every_queue=True), methods=["GET"]),
        Route("/_events", endpoint(events, read, query=None), methods=["GET"]),
        Route("/_static/{file}", endpoint(static, read, query=None), methods=["GET"]),
        Route("/_schedules", endpoint(list_schedules, read), methods=["GET"]),
        Route("/_workflows/{workflow_id}", endpoint(workflow_detail, read), methods=["GET"]),
        Route("/_redis", endpoint(redis_detail, read, every_queue=True), methods=["GET"]),
        Route("/_history", endpoint(system_history, read, query=history.HISTORY_PARAMS), methods=["GET"]),
        Route("/_schedules/{schedule_id}", endpoint(schedule_detail, read), methods=["GET"]),
        Route("/_schedules/{schedule_id}", endpoint(put_schedule, admin, schedule_created), methods=["PUT"]),
        Route("/_schedules/{schedule_id}", endpoint(schedule_action("delete"), admin), methods=["DELETE"]),
        Route("/_schedules/{schedule_id}/pause", endpoint(schedule_action("pause"), admin), methods=["POST"]),
        Route(
            "/_schedules/{schedule_id}/resume", endpoint(schedule_action("resume"), admin), methods=["POST"]
        ),
        Route("/_schedules/{schedule_id}/run", endpoint(run_schedule, admin), methods=["POST"]),
        Route("/{queue}", endpoint(queue_stats, read), methods=["GET"]),
        Route("/{queue}/jobs", endpoint(list_jobs, read, query=actions.LIST_PARAMS), methods=["GET"]),
        Route("/{queue}/jobs", endpoint(enqueue, admin, created_or_found), methods=["POST"]),
        Route("/{queue}/jobs", endpoint(purge, admin, query=actions.PURGE_PARAMS), methods=["DELETE"]),
        Route("/{queue}/jobs/{uid}", endpoint(job_detail, read), methods=["GET"]),
        Route("/{queue}/jobs/{uid}/events", endpoint(job_events, read, query=None), methods=["GET"]),
        Route("/{queue}/jobs/{uid}", endpoint(job_action("delete"), admin), methods=["DELETE"]),
        Route("/{queue}/jobs/{uid}/retry", endpoint(retry, admin), methods=["POST"]),
        Route("/{queue}/jobs/{uid}/cancel", endpoint(job_action("cancel"), admin), methods=["POST"]),
        Route("/{queue}/jobs/{uid}/promote", endpoint(job_action("promote"), admin), methods=["POST"]),
        Route("/{queue}/jobs/{uid}/abort", endpoint(job_action("abort"), admin), methods=["POST"]),
        Route("/{queue}/dead/requeue", endpoint(requeue_dead, admin), methods=["POST"]),
        Route("/{queue}/bulk", endpoint(bulk_jobs, admin), methods=["POST"]),
        Route("/{queue}/pause", endpoint(pause, admin), methods=["POST"]),
        Route("/{queue}/resume", endpoint(resume, admin), methods=["POST"]),
        Route(
            "/{queue}/backlog", endpoint(queue_backlog, read, query=backlog.BACKLOG_PARAMS), methods=["GET"]
        ),
        Route(
            "/{queue}/history",
            endpoint(queue_history, read, query=history.QUEUE_HISTORY_PARAMS),
            methods=["GET"],
        ),
    ]
    routes += _method_routes(routes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await poller.aclose()

    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_exception}, lifespan=lifespan)
    app.state.redisq_dashboard = poller  # the shared poller, for tests and introspection
    return app
