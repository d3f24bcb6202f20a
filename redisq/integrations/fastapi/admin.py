"""The `/queues` admin JSON API as a FastAPI router: `app.include_router(admin_router(rq, ...), prefix=...)`.

The same routes, checks and answers as the Starlette app (`redisq.integrations.asgi.admin`): both call
`redisq.admin.actions` and map errors with `redisq.admin.errors`. What FastAPI adds is typed parameters and
response models, so the OpenAPI schema describes every route, and `auth` as a dependency (it can take
headers, `Depends`...).
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of the route functions, which name
# values local to `admin_router` (the auth dependency), so they must be evaluated where they are written.
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.requests import Request

from redisq.admin import actions, backlog, redis_page, schedules, workflows
from redisq.admin.access import Access, AccessPolicy, Grant, max_body_bytes
from redisq.admin.errors import allowed_methods, error_response, http_error, invalid_request
from redisq.admin.metrics import MetricsRoute
from redisq.core.autoscale import DEFAULT_DRAIN_S
from redisq.core.client import RedisQ
from redisq.dashboard.poller import Poller
from redisq.integrations.asgi import dashboard
from redisq.integrations.asgi.protocol import limit_body

from .history import add_history_routes
from .models import (
    BacklogModel,
    EnqueuedModel,
    EnqueueModel,
    ErrorModel,
    HealthReportModel,
    JobActionModel,
    JobModel,
    PauseStateModel,
    PurgedModel,
    QueueListModel,
    QueueStatsModel,
    RedisModel,
    RequeuedModel,
    ScheduleChangedModel,
    ScheduleListModel,
    ScheduleModel,
    SchedulePutModel,
    ScheduleRunModel,
    TierBacklogModel,
    WorkflowModel,
)
from .retry import add_retry_route
from .search import add_search_routes

Queue = Annotated[str, Path(description="the queue's name")]
Uid = Annotated[str, Path(description="the job's uid: its id is '<queue>:<uid>'")]
ScheduleId = Annotated[str, Path(description="the schedule's id (by default its task's name)")]
WorkflowId = Annotated[str, Path(description="the id given to enqueue_workflow, or the one it returned")]
RouteHandler = Callable[[Request], Coroutine[Any, Any, Response]]
DrainSeconds = Annotated[
    float, Query(ge=1, le=backlog.MAX_DRAIN_S, allow_inf_nan=False, description="clear the backlog within")
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorModel, "description": text}
    for status, text in (
        (401, "access is not configured, or auth granted none"),
        (403, "read-only access on a mutating route, or a cross-site request"),
        (404, "no such queue or job"),
        (422, "a parameter or body field out of its allowed values"),
        (503, "Redis is unavailable"),
    )
}
# Any write may carry a body, and a body is checked (type, size) before anything else happens.
_WRITE_ERRORS = {
    **_ERRORS,
    413: {"model": ErrorModel, "description": "the body (or the job it makes) is over the size limit"},
    415: {"model": ErrorModel, "description": "the body is not JSON"},
}
_ACTION_ERRORS = {
    **_WRITE_ERRORS,
    409: {"model": ErrorModel, "description": "the job's state does not allow it"},
}
_ENQUEUE_ANSWERS = {
    **_WRITE_ERRORS,
    200: {"model": EnqueuedModel, "description": "the task is unique and this existing job holds its key"},
}


class AccessModel(BaseModel):
    access: Access = Field(description="the highest level granted")
    queues: dict[str, Access] | None = Field(
        description="the level on each queue the caller may see, when access is granted per queue; "
        "null: `access` on every queue"
    )


def grant_of(request: Request) -> Grant:
    """What the route's access dependency granted (`requirement`)."""
    found: Grant = request.state.redisq_grant
    return found


class _AdminRouter(APIRouter):
    redisq_dashboard: Poller  # the router's one poller, shared by every stream (tests look at it)


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route declares, with those of its dependencies (an auth dependency's)."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _route_class(policy: AccessPolicy) -> type[APIRoute]:
    """Routes that check the request before FastAPI reads its body, and answer errors in our JSON shape.

    A route class (not an app exception handler) because a router cannot install handlers on the app it is
    included in, and the app's own handlers must keep answering for its other routes.
    """

    class AdminRoute(APIRoute):
        def get_route_handler(self) -> RouteHandler:
            handle = super().get_route_handler()
            has_body = self.body_field is not None
            # An optional body (a retry's edited arguments) may be left out: nothing to parse then.
            body_required = self.body_field is not None and self.body_field.field_info.is_required()
            # The query parameters this route declares, its dependencies' (an auth dependency's) included;
            # the dashboard's page, files and streams (not in the schema) are not JSON routes.
            query = _query_names(self.dependant)
            check_query = self.include_in_schema and "OPTIONS" not in (self.methods or ())

            async def guarded(request: Request) -> Response:
                try:
                    policy.check_request(request.method, request.url.scheme, request.headers)
                    if check_query and not dashboard.wants_page(request):
                        actions.check_query(request.query_params.keys(), query)
                    if has_body:
                        # Read here, within the size limit, so that bytes that are not JSON get the
                        # Starlette app's 422 rather than FastAPI's 400; FastAPI reuses the read body.
                        request = Request(request.scope, limit_body(request.receive, policy.max_body_bytes))
                        raw = await request.body()
                        if raw or body_required:
                            actions.parse_json(raw)
                    return await handle(request)
                except RequestValidationError as exc:
                    status, body = invalid_request(exc.errors())
                except Exception as exc:
                    mapped = error_response(exc)
                    if mapped is None:
                        raise
                    status, body = mapped
                return JSONResponse(dict(body), status)

            return guarded

    return AdminRoute


def admin_router(
    rq: RedisQ,
    *,
    auth: Callable[..., Any] | None = None,
    allow_anonymous: Access | str | bool = False,
    trusted_origins: Iterable[str] = (),
    dashboard_interval_s: float = 1.0,
) -> APIRouter:
    """A new router for this client. `auth` is a FastAPI dependency returning Access, bool or None.

    See `redisq.admin.access` for the contract; with neither `auth` nor `allow_anonymous` every
    request is refused with a 401 that says how to configure access. The routes are those of
    `admin_app`, the dashboard's included; the router's lifespan (merged into the app's by
    `include_router`) stops its poller.
    """
    policy = AccessPolicy.build(
        has_auth=auth is not None,
        allow_anonymous=allow_anonymous,
        trusted_origins=trusted_origins,
        max_body_bytes=max_body_bytes(rq),
    )

    async def nobody() -> None:
        return None

    def requirement(needed: Access, every_queue: bool = False) -> Any:
        """A queue's routes are checked on that queue (access per queue, redisq.admin.scope); the grant
        is kept on the request for the routes over every queue, which show only what it lets them see."""

        async def require_access(request: Request, granted: Annotated[Any, Depends(auth or nobody)]) -> Grant:
            grant = policy.grant(granted, needed, request.path_params.get("queue"), every_queue)
            request.state.redisq_grant = grant
            return grant

        return Depends(require_access)

    poller = Poller(rq, interval_s=dashboard_interval_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        await poller.aclose()

    read, admin = [requirement(Access.READ)], [requirement(Access.ADMIN)]
    router = _AdminRouter(route_class=_route_class(policy), responses=_ERRORS, lifespan=lifespan)
    router.redisq_dashboard = poller
    stream: dict[str, Any] = {"dependencies": read, "include_in_schema": False}  # endless: no fuzzing

    @router.get(
        "/",
        response_model=QueueListModel,
        dependencies=read,
        summary="every queue with its stats; a browser's navigation gets the dashboard",
    )
    async def list_queues(request: Request) -> Any:
        if dashboard.wants_page(request):
            return dashboard.page_response(request)
        return await actions.list_queues(rq, grant_of(request).visible)

    # Before "/{queue}", which would take them (a queue cannot be called _me, _events or _static).
    @router.get("/_me", response_model=AccessModel, summary="the access level granted to the caller")
    async def me(grant: Annotated[Grant, requirement(Access.READ)]) -> Any:
        return await actions.me(rq, grant)

    @router.get(
        "/_health",
        response_model=HealthReportModel,
        dependencies=read,
        summary="the queues' health, in detail",
    )
    async def health(request: Request) -> Any:
        return await actions.health_report(rq, grant_of(request).visible)

    @router.get(
        "/_backlog",
        response_model=TierBacklogModel,
        dependencies=read,
        summary="desired workers of a tier serving these queues, for an autoscaler",
    )
    async def tier_backlog(
        request: Request,
        queues: Annotated[str | None, Query(description="comma-separated; default: every queue")] = None,
        drain_s: DrainSeconds = DEFAULT_DRAIN_S,
    ) -> Any:
        return await backlog.tier_backlog(rq, queues, drain_s, grant_of(request))

    metrics_route = MetricsRoute(rq)

    @router.get(
        "/_metrics",
        dependencies=[requirement(Access.READ, every_queue=True)],
        response_class=Response,
        summary="Prometheus metrics, text exposition format (needs redisq[prometheus])",
    )
    async def metrics(request: Request) -> Response:
        body, content_type = await metrics_route.render(request.headers.get("accept"))
        return Response(body, headers={"content-type": content_type, "cache-control": "no-store"})

    @router.get("/_events", **stream, summary="the dashboard's snapshots (Server-Sent Events)")
    async def events(request: Request) -> Response:
        return dashboard.events_response(poller, grant_of(request).visible)

    @router.get("/_static/{file}", dependencies=read, include_in_schema=False)
    async def static(request: Request) -> Response:
        return dashboard.static_response(request)

    _add_schedule_routes(router, rq, read, admin)
    add_history_routes(router, rq, read)

    @router.get(
        "/_workflows/{workflow_id}",
        response_model=WorkflowModel,
        dependencies=read,
        responses={404: {"model": ErrorModel, "description": "no such workflow"}},
        summary="a workflow's steps, their states and edges",
    )
    async def workflow_detail(request: Request, workflow_id: WorkflowId) -> Any:
        return await workflows.workflow_detail(rq, workflow_id, grant_of(request))

    @router.get(
        "/_redis",
        response_model=RedisModel,
        dependencies=[requirement(Access.READ, every_queue=True)],
        summary="each master's version, memory, eviction policy, persistence, clients and slow log",
    )
    async def redis_detail() -> Any:
        return await redis_page.redis_detail(rq)

    @router.get("/{queue}", response_model=QueueStatsModel, dependencies=read, summary="one queue's stats")
    async def queue_stats(queue: Queue) -> Any:
        return await actions.queue_stats(rq, queue)

    add_search_routes(router, rq, read, admin, _WRITE_ERRORS)  # GET /{queue}/jobs, POST /{queue}/bulk

    @router.post(
        "/{queue}/jobs",
        response_model=EnqueuedModel,
        status_code=201,
        dependencies=admin,
        responses=_ENQUEUE_ANSWERS,
        summary="enqueue a registered task by name",
    )
    async def enqueue(queue: Queue, body: EnqueueModel, response: Response) -> Any:
        result = await actions.enqueue(rq, queue, body.model_dump(exclude_unset=True))
        if not result["created"]:
            response.status_code = 200
        return result

    writes: dict[str, Any] = {"dependencies": admin, "responses": _WRITE_ERRORS}

    @router.delete("/{queue}/jobs", response_model=PurgedModel, **writes, summary="purge one state")
    async def purge(queue: Queue, state: actions.PurgeableState) -> Any:
        return await actions.purge(rq, queue, state)

    @router.get("/{queue}/jobs/{uid}", response_model=JobModel, dependencies=read, summary="one job")
    async def job_detail(queue: Queue, uid: Uid) -> Any:
        return await actions.job_detail(rq, queue, uid)

    @router.get("/{queue}/jobs/{uid}/events", **stream, summary="one job's changes (Server-Sent Events)")
    async def job_events(queue: Queue, uid: Uid) -> Response:
        return await dashboard.job_events_response(rq, poller, queue, uid)

    job_action: dict[str, Any] = {
        "response_model": JobActionModel,
        "dependencies": admin,
        "responses": _ACTION_ERRORS,
    }

    @router.delete("/{queue}/jobs/{uid}", **job_action, summary="delete a job that is not running")
    async def delete_job(queue: Queue, uid: Uid) -> Any:
        return await actions.job_action(rq, queue, uid, "delete")

    add_retry_route(router, rq, **job_action)

    @router.post("/{queue}/jobs/{uid}/cancel", **job_action, summary="cancel a queued or scheduled job")
    async def cancel_job(queue: Queue, uid: Uid) -> Any:
        return await actions.job_action(rq, queue, uid, "cancel")

    @router.post("/{queue}/jobs/{uid}/promote", **job_action, summary="run a scheduled job now")
    async def promote_job(queue: Queue, uid: Uid) -> Any:
        return await actions.job_action(rq, queue, uid, "promote")

    @router.post(
        "/{queue}/jobs/{uid}/abort", **job_action, summary="stop a running job, or cancel a waiting one"
    )
    async def abort_job(queue: Queue, uid: Uid) -> Any:
        return await actions.job_action(rq, queue, uid, "abort")

    @router.post("/{queue}/dead/requeue", response_model=RequeuedModel, **writes, summary="requeue all dead")
    async def requeue_dead(queue: Queue) -> Any:
        return await actions.requeue_dead(rq, queue)

    @router.post("/{queue}/pause", response_model=PauseStateModel, **writes, summary="pause a queue")
    async def pause(queue: Queue) -> Any:
        return await actions.set_paused(rq, queue, True)

    @router.post("/{queue}/resume", response_model=PauseStateModel, **writes, summary="resume a queue")
    async def resume(queue: Queue) -> Any:
        return await actions.set_paused(rq, queue, False)

    @router.get(
        "/{queue}/backlog",
        response_model=BacklogModel,
        dependencies=read,
        summary="backlog and desired workers, for an autoscaler (KEDA metrics-api)",
    )
    async def queue_backlog(queue: Queue, drain_s: DrainSeconds = DEFAULT_DRAIN_S) -> Any:
        return await backlog.backlog(rq, queue, drain_s)

    _add_method_routes(router)
    return router


def _add_schedule_routes(router: APIRouter, rq: RedisQ, read: list[Any], admin: list[Any]) -> None:
    """Periodic jobs (issue 12), before "/{queue}" (a queue name cannot start with "_")."""
    schedule_errors = {**_WRITE_ERRORS, 404: {"model": ErrorModel, "description": "no such schedule"}}
    writes: dict[str, Any] = {"dependencies": admin, "responses": schedule_errors}

    @router.get("/_schedules", response_model=ScheduleListModel, dependencies=read, summary="every schedule")
    async def list_schedules(request: Request) -> Any:
        return await schedules.list_schedules(rq, grant_of(request))

    @router.get("/_schedules/{schedule_id}", response_model=ScheduleModel, dependencies=read, summary="one")
    async def schedule_detail(request: Request, schedule_id: ScheduleId) -> Any:
        return await schedules.schedule_detail(rq, schedule_id, grant_of(request))

    @router.put(
        "/_schedules/{schedule_id}",
        response_model=ScheduleChangedModel,
        **writes,
        summary="create (201) or replace a schedule",
    )
    async def put_schedule(
        request: Request, schedule_id: ScheduleId, body: SchedulePutModel, response: Response
    ) -> Any:
        raw = body.model_dump(exclude_unset=True)
        result = await schedules.put_schedule(rq, schedule_id, raw, grant_of(request))
        response.status_code = 201 if result["change"] == "created" else 200
        return result

    @router.delete(
        "/_schedules/{schedule_id}", response_model=ScheduleChangedModel, **writes, summary="delete"
    )
    async def delete_schedule(request: Request, schedule_id: ScheduleId) -> Any:
        return await schedules.schedule_action(rq, schedule_id, "delete", grant_of(request))

    @router.post("/_schedules/{schedule_id}/pause", response_model=ScheduleChangedModel, **writes)
    async def pause_schedule(request: Request, schedule_id: ScheduleId) -> Any:
        return await schedules.schedule_action(rq, schedule_id, "pause", grant_of(request))

    @router.post("/_schedules/{schedule_id}/resume", response_model=ScheduleChangedModel, **writes)
    async def resume_schedule(request: Request, schedule_id: ScheduleId) -> Any:
        return await schedules.schedule_action(rq, schedule_id, "resume", grant_of(request))

    @router.post(
        "/_schedules/{schedule_id}/run",
        response_model=ScheduleRunModel,
        **writes,
        summary="enqueue its job now",
    )
    async def run_schedule(request: Request, schedule_id: ScheduleId) -> Any:
        return await schedules.run_schedule(rq, schedule_id, grant_of(request))


_OTHER_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _method_handlers(
    allow: str, get: APIRoute | None
) -> tuple[Callable[[], Coroutine[Any, Any, Response]], RouteHandler]:
    # Closures, not default arguments: FastAPI would read those as query parameters.
    async def options() -> Response:
        return Response(status_code=204, headers={"allow": allow})

    async def other(request: Request) -> Response:
        if request.method == "HEAD" and get is not None:
            answer = await get.get_route_handler()(request)
            return Response(status_code=answer.status_code, headers=dict(answer.headers))
        status, body = http_error(405, "Method Not Allowed")
        return JSONResponse(dict(body), status, headers={"allow": allow})

    return options, other


def _add_method_routes(router: APIRouter) -> None:
    """For each path: OPTIONS lists every method it serves, HEAD answers as GET without the body, and any
    other method is a 405 whose `Allow` says the same, as the Starlette app and the Flask blueprint do
    (Starlette's router names only the first route of a path in `Allow`, issue 11)."""
    served: dict[str, dict[str, APIRoute]] = {}
    for route in router.routes:
        if isinstance(route, APIRoute):
            served.setdefault(route.path, {}).update(dict.fromkeys(route.methods or (), route))
    for path, routes in served.items():
        options, other = _method_handlers(allowed_methods(routes), routes.get("GET"))
        router.add_api_route(path, options, methods=["OPTIONS"], include_in_schema=False)
        others = [m for m in _OTHER_METHODS if m not in routes]
        router.add_api_route(path, other, methods=others, include_in_schema=False)
