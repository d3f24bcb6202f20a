"""A user's own tests of shop.py with redisq.testing (run by tests/test_testing.py in a pytest of its own,
with `pytest_plugins = ["redisq.testing.pytest_plugin"]` in its conftest.py)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import shop
from fastapi.testclient import TestClient
from flask import Flask

from redisq import JobState, RedisQ, SerializationError
from redisq.core.embedded import EmbeddedServer
from redisq.testing import advance, drain, drain_sync, eager

Isolate = Callable[[RedisQ], RedisQ]


@pytest.fixture
def rq(redisq_isolate: Isolate) -> RedisQ:
    for seen in (shop.sent, shop.charges, shop.digests, shop.built):
        seen.clear()
    return redisq_isolate(shop.rq)


@pytest.fixture
async def arq(rq: RedisQ) -> AsyncIterator[RedisQ]:
    """Async tests close what the client opened on their event loop, as with any connection pool."""
    yield rq
    await rq.aclose()


@pytest.fixture
def flask_app(redisq_env: dict[str, str]) -> Iterator[Flask]:
    shop.built.clear()
    app = shop.create_app()  # its client reads REDISQ_URL and REDISQ_PREFIX, which redisq_env set
    yield app
    with app.app_context():
        shop.flask_rq.client.close()


def test_nothing_starts_unless_a_fixture_is_asked_for() -> None:
    children = [
        int(pid)
        for task in Path("/proc/self/task").iterdir()
        for pid in (task / "children").read_text().split()
    ]
    assert children == []


def test_the_session_server_is_on_loopback(redisq_server: EmbeddedServer, redisq_url: str) -> None:
    assert redisq_url == redisq_server.url and redisq_url.startswith("redis://127.0.0.1:")
    assert redisq_server.process is not None
    Path(os.environ["SERVER_PID_FILE"]).write_text(str(redisq_server.process.pid))


def test_drain_runs_what_a_request_enqueued(rq: RedisQ) -> None:
    with TestClient(shop.app) as client:  # the app runs no embedded worker (workers=0): the test drains
        answer = client.post("/signup", params={"user_id": 7}).json()
    assert answer["state"] == "queued" and shop.sent == []
    report = drain_sync(rq, raise_on_failure=True)
    assert (report.succeeded, report.ran, shop.sent) == (1, 1, [7])
    assert rq.job(answer["job"]).result_sync() == "welcome 7"
    assert drain_sync(rq).ran == 0


def test_a_job_left_queued_here(rq: RedisQ) -> None:
    shop.send_welcome.delay(1)
    assert rq.stats_sync("emails").queued == 1


def test_is_not_seen_by_the_next_test(rq: RedisQ) -> None:
    assert rq.stats_sync("emails").queued == 0
    assert drain_sync(rq).ran == 0 and shop.sent == []


async def test_a_delayed_job_runs_once_the_clock_is_advanced(arq: RedisQ) -> None:
    started = time.monotonic()
    job = await shop.send_welcome.with_options(delay_s=3600).enqueue(3)
    emails = ["emails"]  # not "reports": its hourly schedule would fire too
    assert (await drain(arq, emails)).ran == 0 and (await job.info()).state == JobState.SCHEDULED
    advance(arq, timedelta(minutes=59))
    assert (await drain(arq, emails)).ran == 0
    advance(arq, 60)
    assert (await drain(arq, emails)).succeeded == 1 and await job.result() == "welcome 3"
    assert time.monotonic() - started < 10  # an hour of job time, without sleeping through it


async def test_a_retry_runs_after_its_backoff(arq: RedisQ) -> None:
    job = await shop.charge.enqueue(42)
    first = await drain(arq)
    assert (first.retried, first.succeeded) == (1, 0)
    assert isinstance(first.failures[0].error, ConnectionError) and first.failures[0].attempt == 1
    assert (await drain(arq)).ran == 0  # its backoff (60 s and more, with jitter) is not over
    advance(arq, 600)  # past the cap of the backoff
    second = await drain(arq)
    assert (second.succeeded, second.failures) == (1, [])
    assert await job.result() == 42 and shop.charges == [42, 42]
    assert (await job.info()).attempts == 2


async def test_raise_on_failure_raises_what_the_job_raised(arq: RedisQ) -> None:
    await shop.charge.enqueue(1)
    with pytest.raises(ConnectionError, match="gateway is down"):
        await drain(arq, raise_on_failure=True)


async def test_a_schedule_fires_after_advancing(arq: RedisQ) -> None:
    assert (await drain(arq)).ran == 0 and shop.digests == []  # written at the first drain, due in an hour
    advance(arq, timedelta(hours=1))
    report = await drain(arq)
    assert report.succeeded == 1 and shop.digests == ["digest"]
    assert (await drain(arq)).ran == 0  # the next tick is an hour later still


def test_eager_enqueue_runs_at_once(rq: RedisQ) -> None:
    with eager(rq):
        job = shop.send_welcome.delay(5)
        assert job.info_sync().state == JobState.SUCCEEDED and job.result_sync() == "welcome 5"
        with pytest.raises(SerializationError):
            shop.send_welcome.delay(object())  # type: ignore[arg-type]
        with pytest.raises(ConnectionError):  # the job's own error, at the enqueue
            shop.charge.delay(9)
    assert shop.sent == [5] and shop.charges == [9]
    later = shop.send_welcome.delay(6)  # eager mode ended with the block
    assert later.info_sync().state == JobState.QUEUED


async def test_eager_from_async_code_and_from_sync_code_inside_a_loop(arq: RedisQ) -> None:
    with eager(arq):
        job = await shop.send_welcome.enqueue(10)
        assert (await job.info()).state == JobState.SUCCEEDED
        # Sync code called from a running loop: the jobs run on a loop of their own in a helper thread.
        other = shop.send_welcome.delay(11)
        assert (await other.info()).state == JobState.SUCCEEDED
    assert shop.sent == [10, 11]


def test_eager_in_fastapi_endpoints_async_and_sync(rq: RedisQ) -> None:
    with eager(rq), TestClient(shop.app) as client:
        assert client.post("/signup", params={"user_id": 1}).json()["state"] == "succeeded"
        assert client.post("/signup-sync", params={"user_id": 2}).json()["state"] == "succeeded"
    assert shop.sent == [1, 2]


def test_flask_test_client_and_drain(flask_app: Flask) -> None:
    client = flask_app.test_client()
    assert client.post("/reports/3").status_code == 202
    with flask_app.app_context():
        report = drain_sync(shop.flask_rq.client, raise_on_failure=True)
    assert report.succeeded == 1 and shop.built == [3]


def test_flask_eager(flask_app: Flask) -> None:
    with flask_app.app_context(), eager(shop.flask_rq.client):
        assert flask_app.test_client().post("/reports-now/4").json == {"state": "succeeded"}
    assert shop.built == [4]
