"""The Flask extension with Flask's test client and in-process workers: app context, factories, context."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from flask import Flask

from redisq import JobState, RateLimit, RedisQ, Worker
from redisq.core.embedded import free_port, start_embedded
from redisq.flask import RedisQ as FlaskRedisQ
from redisq.flask import enqueue_after_request

from .conftest import FAST, running_worker
from .flaskapp import always_fails, build_report, create_app, summarize

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def app(redis_url: str, prefix: str) -> Iterator[Flask]:
    app = create_app(REDISQ_URL=redis_url, REDISQ_PREFIX=prefix)
    yield app
    app.extensions["redisq"].client.close()


def client_of(app: Flask) -> RedisQ:
    client: RedisQ = app.extensions["redisq"].client
    return client


async def test_a_view_enqueues_and_the_task_runs_in_the_apps_context(app: Flask) -> None:
    response = app.test_client().post(
        "/reports/7", headers={"X-Request-ID": "req-7", "traceparent": TRACEPARENT}
    )
    assert response.status_code == 202
    assert response.headers["X-Request-ID"] == "req-7"
    rq = client_of(app)
    job = rq.job(response.get_json()["job"])
    teardowns = app.extensions["counter"]["teardowns"]
    async with running_worker(rq, queues=["reports"]):
        result = await job.result(timeout=5)
    assert result == {"report": 7, "app": "reports-app", "label": "reports-app", "g": 7}
    info = await job.info()
    assert info.request_id == "req-7" and info.traceparent == TRACEPARENT
    assert app.extensions["counter"]["teardowns"] > teardowns  # the job's app context was torn down


async def test_async_tasks_and_retries_until_dead(app: Flask) -> None:
    rq = client_of(app)
    with app.app_context():
        summary = await summarize.enqueue(3)
        doomed = always_fails.delay(4)
    async with running_worker(rq, queues=["reports"]):
        assert await summary.result(timeout=5) == "reports-app:3"
        for _ in range(100):
            if (await doomed.info()).state is JobState.DEAD:
                break
            await asyncio.sleep(0.05)
    info = await doomed.info()
    assert info.state is JobState.DEAD and info.attempts == 2
    assert info.error is not None and info.error.message == "report 4 cannot be built"


async def test_two_apps_from_one_factory_keep_their_own_queues_and_context(
    redis_url: str, prefix: str
) -> None:
    first = create_app("first", REDISQ_URL=redis_url, REDISQ_PREFIX=f"{prefix}a")
    second = create_app("second", REDISQ_URL=redis_url, REDISQ_PREFIX=f"{prefix}b")
    try:
        with first.app_context():
            job_a = build_report.delay(1)
        with second.app_context():
            job_b = build_report.delay(2)
        assert (await client_of(first).stats("reports")).queued == 1
        assert (await client_of(second).stats("reports")).queued == 1
        async with running_worker(client_of(first), queues=["reports"]):
            assert (await client_of(first).job(job_a.id).result(timeout=5))["label"] == "first"
        async with running_worker(client_of(second), queues=["reports"]):
            assert (await client_of(second).job(job_b.id).result(timeout=5))["app"] == "second"
    finally:
        client_of(first).close()
        client_of(second).close()


def test_using_the_extension_before_init_app_says_what_to_do() -> None:
    extension = FlaskRedisQ()

    @extension.task("q")
    def noop() -> None: ...

    with pytest.raises(RuntimeError, match="application context"):
        noop.delay()
    with Flask("bare").app_context(), pytest.raises(RuntimeError, match="init_app"):
        noop.delay()


async def test_after_request_jobs_only_for_success(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/after/1").status_code == 200
    assert client.post("/after/2?status=201").status_code == 201
    assert client.post("/after/3?status=400").status_code == 400
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.post("/after/4?status=0").status_code == 500
    queued = await client_of(app).jobs("reports", JobState.QUEUED, newest_first=False)
    assert [j.args for j in queued] == [[1], [2]]
    with app.app_context(), pytest.raises(RuntimeError, match="a request handled by an app"):
        enqueue_after_request(build_report.call(5))


def test_after_request_jobs_that_cannot_be_stored_turn_into_503() -> None:
    down = create_app("down", REDISQ_URL=f"redis://127.0.0.1:{free_port()}/0")
    response = down.test_client().post("/after/1")
    assert response.status_code == 503
    assert "retry" in response.get_json()["detail"]


async def test_health_views_answer_for_the_process_and_for_the_queues(prefix: str) -> None:
    """Readiness stays 200 while a queue waits for a worker (that is `/health/queues`' verdict), and
    turns 503 when Redis goes away; anonymous callers get the status and the failing checks' names."""
    port = free_port()
    server = start_embedded(port=port)
    app = create_app("health", REDISQ_URL=server.url, REDISQ_PREFIX=prefix)
    client = app.test_client()
    try:
        assert client.get("/health/live").status_code == 200
        assert client.get("/health").get_json() == {"status": "ready", "failing": []}
        with app.app_context():
            build_report.delay(1)
        ready = client.get("/health")
        assert (ready.status_code, ready.get_json()) == (200, {"status": "ready", "failing": []})
        waiting = client.get("/health/queues")
        assert waiting.status_code == 503
        assert waiting.get_json() == {"status": "failing", "failing": ["queue_workers:reports"]}
        assert client.head("/health/queues").status_code == 503
        worker = Worker(client_of(app), ["reports"], settings=FAST)
        run = asyncio.create_task(worker.run())
        try:
            for _ in range(50):
                if client.get("/health/queues").status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert client.get("/health/queues").get_json() == {"status": "ok", "failing": []}
            server.stop()
            down = client.get("/health")
            assert (down.status_code, down.get_json()) == (
                503,
                {"status": "unavailable", "failing": ["redis"]},
            )
            assert client.get("/health/queues").get_json() == {"status": "failing", "failing": ["redis"]}
            assert client.get("/health/live").status_code == 200
        finally:
            worker.stop()
            await asyncio.wait_for(run, 30)
    finally:
        client_of(app).close()
        server.stop()


def test_flask_cli_stats_and_requeue_dead(app: Flask) -> None:
    runner = app.test_cli_runner()
    with app.app_context():
        build_report.delay(1)
    result = runner.invoke(args=["redisq", "stats"])
    assert result.exit_code == 0, result.output
    assert "reports" in result.output
    result = runner.invoke(args=["redisq", "requeue-dead", "reports"])
    assert result.exit_code == 0 and "requeued 0 jobs" in result.output


def test_queue_limits_reach_the_client_of_every_app(redis_url: str, prefix: str) -> None:
    extension = FlaskRedisQ(health_url=None)
    apps = [Flask("limits-a"), Flask("limits-b")]
    for app in apps:
        app.config.update(REDISQ_URL=redis_url, REDISQ_PREFIX=prefix)
    extension.init_app(apps[0])
    extension.limit_queue("reports", rate_limit="10/m", max_concurrency=2)  # after one init_app...
    extension.init_app(apps[1])  # ...and before the other
    try:
        for app in apps:
            limit = app.extensions["redisq"].client.queue_limits["reports"]
            assert limit.max_concurrency == 2 and limit.rate_limit == RateLimit(10, per=60)
    finally:
        for app in apps:
            app.extensions["redisq"].client.close()
