"""`GET M/_metrics` (issue 14): Prometheus exposition on every admin adapter, behind the admin API's access
rules (READ), one contract for Starlette, FastAPI and Flask."""

from __future__ import annotations

import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from redisq import RedisQ

from . import promtoolkit
from .adminkit import FLAVORS, READER, api_client

pytestmark = pytest.mark.parametrize("flavor", FLAVORS)


async def test_metrics_are_read_access(flavor: str, rq: RedisQ, queue: str) -> None:
    @rq.task(name="metered")
    async def metered(n: int) -> int:
        return n

    await rq.enqueue_many([metered.call(i) for i in range(3)])
    async with api_client(flavor, rq, headers={}) as client:
        refused = await client.get("/_metrics")
        assert refused.status_code == 401
        assert refused.json()["error"] == "not_authenticated"
        response = await client.get("/_metrics", headers=READER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert response.headers["cache-control"] == "no-store"
    promtoolkit.check(response.text)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("redisq_jobs_enqueued_total", (("queue", queue), ("task", "metered")))] == 3
    assert samples[("redisq_queue_depth", (("queue", queue), ("state", "queued")))] == 3
    assert samples[("redisq_up", ())] == 1


async def test_without_the_extra_the_route_says_what_to_install(
    flavor: str, rq: RedisQ, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "redisq.prometheus.exposition")
    async with api_client(flavor, rq, headers=READER) as client:
        response = await client.get("/_metrics")
    assert response.status_code == 501
    assert response.json()["error"] == "not_installed"
    assert "pip install 'redisq[prometheus]'" in response.json()["detail"]
