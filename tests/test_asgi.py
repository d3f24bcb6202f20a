"""RedisQMiddleware in-process: lifespan workers, composition with the app's lifespan, request context."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from redisq import Job, JobState, LogContext, RedisQ, WorkerSettings, current_job
from redisq.core import context
from redisq.core.embedded import free_port
from redisq.integrations.asgi import RedisQMiddleware, enqueue_after_response
from redisq.integrations.asgi.protocol import ASGIApp, Receive, Scope, Send

from .asgikit import lifespan
from .conftest import FAST

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def client_for(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    async with lifespan(app), client_for(app) as client:
        yield client


def signup_app(rq: RedisQ, workers: int = 1, settings: WorkerSettings = FAST) -> tuple[ASGIApp, list[str]]:
    seen: list[str] = []

    @rq.task(name="asgi.welcome")
    async def welcome(user: str) -> str:
        job = current_job.get()
        assert job is not None
        seen.append(f"{user} req={context.request_id.get()} trace={context.traceparent.get()}")
        return f"welcome {user}"

    async def signup(request: Request) -> JSONResponse:
        job = await welcome.enqueue(request.path_params["user"])
        return JSONResponse({"job": job.id}, status_code=202)

    app = Starlette(routes=[Route("/signup/{user}", signup, methods=["POST"])])
    app.add_middleware(RedisQMiddleware, redisq=rq, workers=workers, worker_settings=settings)
    return app, seen


async def test_a_route_enqueues_and_the_embedded_worker_runs_it(rq: RedisQ) -> None:
    app, seen = signup_app(rq)
    async with serving(app) as client:
        response = await client.post(
            "/signup/ada", headers={"X-Request-ID": "req-42", "traceparent": TRACEPARENT}
        )
        assert response.status_code == 202
        assert response.headers["x-request-id"] == "req-42"
        job = rq.job(response.json()["job"])
        assert await job.result(timeout=5) == "welcome ada"
        info = await job.info()
        assert info.request_id == "req-42"
    assert seen == [f"ada req=req-42 trace={TRACEPARENT}"]


async def test_request_ids_are_generated_and_bad_headers_ignored(rq: RedisQ) -> None:
    app, _ = signup_app(rq, workers=0)
    async with serving(app) as client:
        plain = await client.post("/signup/bo")
        odd = await client.post(
            "/signup/cy", headers={"X-Request-ID": "x" * 300, "traceparent": "00-zz-1-01"}
        )
    for response in (plain, odd):
        generated = response.headers["x-request-id"]
        assert len(generated) == 32 and generated != "x" * 300
        info = await rq.job(response.json()["job"]).info()
        assert info.request_id == generated
    assert plain.headers["x-request-id"] != odd.headers["x-request-id"]


async def test_job_log_lines_carry_the_request_id(rq: RedisQ, caplog: pytest.LogCaptureFixture) -> None:
    @rq.task(name="asgi.logs")
    async def logs() -> None:
        logging.getLogger("myapp.jobs").warning("sending the email")

    async def route(request: Request) -> Response:
        await logs.enqueue()
        return Response(status_code=204)

    app = Starlette(routes=[Route("/go", route, methods=["POST"])])
    app.add_middleware(RedisQMiddleware, redisq=rq, workers=1, worker_settings=FAST)
    caplog.handler.addFilter(LogContext())
    async with serving(app) as client:
        await client.post("/go", headers={"X-Request-ID": "trace-me"})
        for _ in range(100):
            if any(r.getMessage() == "sending the email" for r in caplog.records):
                break
            await asyncio.sleep(0.05)
    [record] = [r for r in caplog.records if r.getMessage() == "sending the email"]
    assert record.request_id == "trace-me"  # type: ignore[attr-defined]
    assert record.job_id.startswith(f"{rq.settings.default_queue}:")  # type: ignore[attr-defined]


async def test_the_apps_own_lifespan_runs_inside_ours(rq: RedisQ) -> None:
    order: list[str] = []
    at_shutdown: list[Job] = []

    @rq.task(name="asgi.boot")
    async def boot(stage: str) -> str:
        return stage

    @contextlib.asynccontextmanager
    async def app_lifespan(app: Starlette) -> AsyncIterator[None]:
        order.append("app startup")
        job = await boot.enqueue("startup")  # our connections are already open
        assert await job.result(timeout=5) == "startup"  # and our worker already runs
        yield
        order.append("app shutdown")
        at_shutdown.append(await boot.enqueue("shutdown"))  # still possible: we close after the app

    app = Starlette(lifespan=app_lifespan)
    middleware = RedisQMiddleware(app, redisq=rq, workers=1, worker_settings=FAST)
    async with lifespan(middleware):
        assert middleware.lifecycle.started and not middleware.lifecycle.draining
    assert order == ["app startup", "app shutdown"]
    assert middleware.lifecycle.draining
    # The job enqueued at shutdown races the worker's stop: it ran, or it waits for the next worker.
    [worker] = middleware.lifecycle.workers
    [late] = at_shutdown
    assert (worker.processed, (await late.info()).state) in ((1, JobState.QUEUED), (2, JobState.SUCCEEDED))


async def test_shutdown_drains_running_jobs_and_gives_back_the_rest(rq: RedisQ, queue: str) -> None:
    started = asyncio.Event()

    @rq.task(name="asgi.slow")
    async def slow(seconds: float) -> float:
        started.set()
        await asyncio.sleep(seconds)
        return seconds

    settings = WorkerSettings(concurrency=2, lease_s=5, sweep_every_s=0.2, shutdown_grace_s=0.5)
    app = Starlette()
    app.add_middleware(RedisQMiddleware, redisq=rq, workers=1, worker_settings=settings)
    async with lifespan(app):
        quick = await slow.enqueue(0.2)
        stuck = await slow.enqueue(30)
        await started.wait()
        await asyncio.sleep(0.05)
    # The client closed with the lifespan; look with a fresh one.
    check = RedisQ(rq.url, prefix=rq.settings.prefix, default_queue=queue)
    try:
        assert (await check.job(quick.id).info()).state is JobState.SUCCEEDED
        back = await check.job(stuck.id).info()
        assert back.state is JobState.QUEUED and back.attempts == 0
    finally:
        await check.aclose()


async def test_an_app_without_lifespan_support_still_gets_workers(rq: RedisQ) -> None:
    @rq.task(name="asgi.bare")
    async def bare() -> str:
        return "ran"

    async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http", "this app only speaks HTTP"
        job = await bare.enqueue()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": job.id.encode()})

    middleware = RedisQMiddleware(raw_app, redisq=rq, workers=1, worker_settings=FAST)
    async with lifespan(middleware), client_for(middleware) as client:
        job_id = (await client.get("/")).text
        assert await rq.job(job_id).result(timeout=5) == "ran"


async def test_a_server_without_lifespan_events_connects_lazily(
    rq: RedisQ, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = signup_app(rq, workers=1)
    async with client_for(app) as client:  # no lifespan at all
        response = await client.post("/signup/di")
    assert response.status_code == 202
    assert (await rq.job(response.json()["job"]).info()).state is JobState.QUEUED  # no worker ran
    assert "sends no lifespan events" in caplog.text


def after_response_app(rq: RedisQ) -> ASGIApp:
    @rq.task(name="asgi.after")
    async def notify(what: str) -> None: ...

    async def route(request: Request) -> Response:
        enqueue_after_response(notify.call(request.path_params["what"]))
        status = int(request.query_params.get("status", "200"))
        if status == 0:
            raise RuntimeError("handler failed")
        return JSONResponse({"status": status}, status_code=status)

    return RedisQMiddleware(Starlette(routes=[Route("/do/{what}", route, methods=["POST"])]), redisq=rq)


async def test_after_response_jobs_only_for_success_responses(rq: RedisQ, queue: str) -> None:
    app = after_response_app(rq)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        assert (await client.post("/do/ok")).status_code == 200
        assert (await client.post("/do/created?status=201")).status_code == 201
        assert (await client.post("/do/bad?status=422")).status_code == 422
        assert (await client.post("/do/boom?status=0")).status_code == 500
    jobs = await rq.jobs(queue, JobState.QUEUED, limit=10, newest_first=False)
    assert [j.args for j in jobs] == [["ok"], ["created"]]


async def test_after_response_jobs_that_cannot_be_stored_turn_the_response_into_503() -> None:
    down = RedisQ(f"redis://127.0.0.1:{free_port()}/0")
    app = after_response_app(down)
    async with client_for(app) as client:
        response = await client.post("/do/lost")
    assert response.status_code == 503
    assert "retry" in response.json()["detail"]
    assert response.headers["x-request-id"]


def test_enqueue_after_response_outside_a_request_says_what_is_missing(rq_sync: RedisQ) -> None:
    @rq_sync.task
    def noop() -> None: ...

    with pytest.raises(RuntimeError, match="RedisQMiddleware"):
        enqueue_after_response(noop.call())
