"""The admin API's HTTP manners, the same on every adapter (issue 11): methods and `Allow`, query
parameters it does not take, an auth callable of the wrong shape, and the detailed health for operators."""

from __future__ import annotations

import asyncio

import pytest
from flask import Flask
from starlette.requests import Request

from redisq import ConfigurationError, RedisQ
from redisq.flask import RedisQ as FlaskRedisQ
from redisq.integrations.asgi.admin import admin_app

from .adminkit import FLAVORS, api_client
from .conftest import running_worker

# Each path of the API and every method it serves (GET brings HEAD; OPTIONS is always answered).
PATHS = {
    "/": {"GET"},
    "/_health": {"GET"},
    "/{queue}": {"GET"},
    "/{queue}/jobs": {"GET", "POST", "DELETE"},
    "/{queue}/jobs/0123": {"GET", "DELETE"},
    "/{queue}/jobs/0123/retry": {"POST"},
    "/{queue}/pause": {"POST"},
    "/{queue}/bulk": {"POST"},
}


def _allow(header: str) -> set[str]:
    return {m.strip() for m in header.split(",")}


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_options_and_wrong_methods_name_every_method_of_a_path(
    flavor: str, rq: RedisQ, queue: str
) -> None:
    """OPTIONS on /{queue}/jobs said `Allow: GET` although POST and DELETE exist there too."""

    @rq.task(name="http.noop")
    async def noop() -> None: ...

    async with api_client(flavor, rq) as client:
        for template, methods in PATHS.items():
            path = template.format(queue=queue)
            expected = methods | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())
            options = await client.options(path)
            assert options.status_code == 204, (path, options.text)
            assert _allow(options.headers["allow"]) == expected, path
            wrong = await client.request("PUT", path)
            assert wrong.status_code == 405, path
            assert wrong.json()["error"] == "method_not_allowed"
            assert _allow(wrong.headers["allow"]) == expected, path
            if "GET" in methods:
                head = await client.head(path)
                get = await client.get(path)
                assert (head.status_code, head.content) == (get.status_code, b""), path


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_query_parameters_a_route_does_not_take_are_refused(
    flavor: str, rq: RedisQ, queue: str
) -> None:
    """`?task=x` was silently ignored before there were filters: the answer looked filtered and was not.
    Now `task` filters (issue 17), and a parameter that is not a filter is refused the same way."""

    @rq.task(name="http.noop")
    async def noop() -> None: ...

    await noop.enqueue()
    async with api_client(flavor, rq) as client:
        listed = await client.get(f"/{queue}/jobs", params={"state": "queued", "tag": "http.noop"})
        assert listed.status_code == 422
        body = listed.json()
        assert body["error"] == "invalid_parameter" and body["field"] == "tag"
        takes = "error, limit, offset, order, q, request_id, since, state, task, until"
        assert f"(this route takes: {takes})" in body["detail"]
        assert (await client.get(f"/{queue}", params={"verbose": "1"})).status_code == 422
        assert (await client.get("/", params={"page": "2"})).status_code == 422
        purge = await client.delete(f"/{queue}/jobs", params={"state": "queued", "all": "yes"})
        assert purge.status_code == 422 and (await rq.stats(queue)).queued == 1  # nothing was purged
        assert (await client.get(f"/{queue}/jobs", params={"state": "queued", "limit": 5})).status_code == 200


def test_an_auth_callable_that_cannot_take_the_request_is_refused_when_the_app_is_built() -> None:
    """A Flask `auth` without a parameter was a 500 TypeError on every request."""

    def no_request() -> bool:
        return True

    rq = RedisQ("redis://127.0.0.1:1/0")
    with pytest.raises(ConfigurationError, match="auth must take one argument, Flask's request"):
        FlaskRedisQ(Flask("auth"), client=rq).admin_blueprint(auth=no_request)
    with pytest.raises(ConfigurationError, match="auth must take one argument, the request"):
        admin_app(rq, auth=no_request)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="callable"):
        admin_app(rq, auth="admin")  # type: ignore[arg-type]

    def with_default(request: Request, level: str = "admin") -> bool:
        return True

    admin_app(rq, auth=with_default)  # one argument is enough


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_operators_get_the_detailed_health(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="http.noop")
    async def noop() -> None: ...

    await noop.enqueue()
    async with api_client(flavor, rq) as client:
        waiting = (await client.get("/_health")).json()
        assert waiting["status"] == "failing" and waiting["failing"] == [f"queue_workers:{queue}"]
        assert waiting["problems"][0]["detail"] == f"queue {queue!r} has 1 jobs and no live worker"
        assert waiting["maxmemory_policy"] == "noeviction" and waiting["redis_ok"] is True
        async with running_worker(rq) as worker:
            await (await noop.enqueue()).result(timeout=10)
            for _ in range(100):
                served = (await client.get("/_health")).json()
                if served["workers"] and served["queues"][0]["queued"] == 0:
                    break
                await asyncio.sleep(0.05)
        assert served["status"] == "ok", served
        assert [w["id"] for w in served["workers"]] == [worker.id]
        assert served["queues"] == [
            {"queue": queue, "workers": 1, "queued": 0, "oldest_queued_age_s": None, "desired_workers": 0}
        ]
        assert (await client.get("/_health", headers={"x-role": "nobody"})).status_code == 401
