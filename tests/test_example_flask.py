"""The Flask example app: the form, the report page following its job, the flaky task, admin and health."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from redisq import JobState, RedisQ

from .conftest import running_worker


@pytest.fixture
def app(redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("ADMIN_TOKEN", "s3cret")
    from redisq.examples.flask_app import create_app

    app = create_app(REDISQ_URL=redis_url, REDISQ_PREFIX=prefix)
    yield app
    app.extensions["redisq"].client.close()


async def test_a_report_from_the_form_to_its_page(app: Flask) -> None:
    client = app.test_client()
    assert b"<form" in client.get("/").data
    title = '<script>alert("x")</script>'
    posted = client.post("/reports", data={"title": title, "pages": "3"})
    assert posted.status_code == 303
    page_url = posted.headers["Location"]
    rq: RedisQ = app.extensions["redisq"].client
    job = rq.job(page_url.rsplit("/", 1)[1])
    assert b"queued" in client.get(page_url).data
    async with running_worker(rq, queues=["reports", "emails"]):
        assert await job.result(timeout=10) == {"title": title, "pages": 3, "by": app.name}
    page = client.get(page_url).data.decode()
    assert "succeeded" in page and "page 3 of 3" in page
    assert "<script>" not in page and "\\u003cscript\\u003e" in page  # the job's values are escaped
    assert (await rq.stats("emails")).succeeded == 1  # the receipt, enqueued after the request
    assert client.get("/reports/nope:0").status_code == 404


async def test_the_flaky_sync_succeeds_after_retries(app: Flask) -> None:
    client = app.test_client()
    job_id = client.post("/inventory/sync?fail=2").get_json()["job"]
    rq: RedisQ = app.extensions["redisq"].client
    async with running_worker(rq, queues=["sync"]):
        assert await rq.job(job_id).result(timeout=15) == "inventory synced"
    info = await rq.job(job_id).info()
    assert info.state is JobState.SUCCEEDED and info.attempts == 3


def test_admin_needs_the_token_and_health_answers(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/queues/").status_code == 401
    assert client.get("/queues/", headers={"Authorization": "Bearer nope"}).status_code == 401
    listed = client.get("/queues/", headers={"Authorization": "Bearer s3cret"})
    assert listed.status_code == 200
    assert {"reports", "emails", "sync"} <= {q["queue"] for q in listed.get_json()["queues"]}
    assert client.get("/health").status_code == 200
