"""Prometheus metrics (issue 14): exact counts after a known workload, scraped over real HTTP and parsed
with prometheus_client's parser; the cost of a scrape in Redis commands; the cache shared by scrapers."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from redisq import Backoff, RedisQ, current_job
from redisq.core.worker import protocol
from redisq.prometheus import MetricsEndpoint, instrument, names, serve_worker_metrics

from . import promtoolkit
from .conftest import FAST, running_worker

ROOT = Path(__file__).resolve().parent.parent
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample by (name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def metrics_server(rq: RedisQ) -> Iterator[tuple[str, CollectorRegistry]]:
    """The worker's metrics server (`redisq worker --metrics-port`) for `rq`, on a free port of 127.0.0.1,
    with a registry of the test's own."""
    registry = CollectorRegistry()
    server, thread = serve_worker_metrics(rq, 0, registry=registry)
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics", registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def wait_for(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_known_workload_is_counted_exactly(
    rq: RedisQ, queue: str, metrics_server: tuple[str, CollectorRegistry]
) -> None:
    url, _ = metrics_server
    fixed = Backoff(kind="fixed", base_s=0.05, jitter=False)

    @rq.task(name="ok")
    async def ok(n: int) -> int:
        return n

    @rq.task(name="flaky", backoff=fixed)
    async def flaky() -> None:
        job = current_job.get()
        assert job is not None
        if job.attempt == 1:
            raise RuntimeError("first attempt fails")

    @rq.task(name="doomed", retries=1, backoff=fixed)
    async def doomed() -> None:
        raise RuntimeError("always")

    @rq.task(name="late")
    async def late() -> None:
        raise AssertionError("expires before any worker takes it")

    @rq.task(name="ghosted")
    async def ghosted() -> None:
        return None

    # A delivery whose worker "died": leased with a lapsing lease, recovered by the worker's sweeper.
    await ghosted.enqueue()
    k = rq.queue_keys(queue)
    _, taken = await rq.backend().run(protocol.fetch(k, rq.now_ms(), 1, 1, "ghost", 100, 60))
    assert len(taken) == 1
    await rq.enqueue_many([ok.call(i) for i in range(5)])
    await flaky.enqueue()
    await flaky.enqueue()
    await doomed.enqueue()
    await late.with_options(ttl_s=0.05).enqueue()
    await asyncio.sleep(0.2)  # past the ttl of `late`

    async with running_worker(rq):

        async def settled() -> bool:
            s = await rq.stats(queue)
            return s.counters["succeeded"] == 8 and s.counters["dead"] == 1 and s.counters["expired"] == 1

        await wait_for(settled)
        async with httpx.AsyncClient() as client:
            await asyncio.sleep(1.1)  # past the endpoint's cache, and a heartbeat
            response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    promtoolkit.check(response.text)
    samples = parse(response.text)

    expected = {
        "ok": {"enqueued": 5, "succeeded": 5},
        "flaky": {"enqueued": 2, "failed": 2, "retried": 2, "succeeded": 2},
        "doomed": {"enqueued": 1, "failed": 2, "retried": 1, "dead": 1},
        "late": {"enqueued": 1, "expired": 1},
        "ghosted": {"enqueued": 1, "recovered": 1, "succeeded": 1},
    }
    for metric, counter in names.COUNTERS_PER_TASK.items():
        got = {
            labels[1][1]: v
            for (name, labels), v in samples.items()
            if name == metric and labels[0][1] == queue
        }
        want = {task: counts[counter] for task, counts in expected.items() if counter in counts}
        assert got == want, metric
    assert value(samples, "redisq_jobs_cancelled_total", queue=queue) == 0
    depths = {
        state: value(samples, names.QUEUE_DEPTH, queue=queue, state=state) for state in names.DEPTH_STATES
    }
    assert depths == {"queued": 0, "scheduled": 0, "active": 0, "dead": 1, "limited": 0}
    assert value(samples, names.PAUSED, queue=queue) == 0
    assert value(samples, names.OLDEST_AGE, queue=queue) == 0
    assert value(samples, names.QUEUE_WORKERS, queue=queue) == 1
    assert value(samples, names.WORKERS_LIVE) >= 1
    assert value(samples, names.UP) == 1

    # Per process: one run per attempt this worker ran (the ghost's lapsed delivery is not one), one wait
    # per first attempt; the worker's gauges.
    runs = {"ok": 5, "flaky": 4, "doomed": 2, "ghosted": 1}
    for task, n in runs.items():
        assert value(samples, "redisq_job_run_seconds_count", queue=queue, task=task) == n, task
    waits = {"ok": 5, "flaky": 2, "doomed": 1}
    for task, n in waits.items():
        assert value(samples, "redisq_job_wait_seconds_count", queue=queue, task=task) == n, task
        assert value(samples, "redisq_job_wait_seconds_bucket", queue=queue, task=task, le="+Inf") == n
    assert ("redisq_job_wait_seconds_count", (("queue", queue), ("task", "ghosted"))) not in samples
    assert value(samples, names.WORKER_RUNNING) == 0
    assert value(samples, names.WORKER_CONCURRENCY) == FAST.concurrency


async def test_a_paused_queue_with_a_backlog(rq: RedisQ, queue: str) -> None:
    @rq.task(name="waits")
    async def waits() -> None:
        return None

    await rq.enqueue_many([waits.call() for _ in range(3)])
    await waits.with_options(delay_s=60).enqueue()
    await rq.pause(queue)
    await asyncio.sleep(0.3)
    body, content_type = await MetricsEndpoint(rq, registry=CollectorRegistry()).render(None)
    samples = parse(body.decode())
    assert content_type.startswith("text/plain")
    assert value(samples, names.QUEUE_DEPTH, queue=queue, state="queued") == 3
    assert value(samples, names.QUEUE_DEPTH, queue=queue, state="scheduled") == 1
    assert value(samples, names.PAUSED, queue=queue) == 1
    assert value(samples, names.OLDEST_AGE, queue=queue) >= 0.3
    assert value(samples, names.QUEUE_WORKERS, queue=queue) == 0


def commands_so_far(client: redis.Redis) -> int:
    """Every command the server has run, INFO itself left out."""
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for name, v in stats.items() if name != "cmdstat_info")


def test_ten_scrapes_in_the_cache_window_cost_one_read(
    rq_sync: RedisQ, queue: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    @rq_sync.task(name="counted")
    def counted() -> None:
        return None

    for other in (queue, f"{queue}-b", f"{queue}-c"):
        counted.with_options(queue=other).delay()
    endpoint = MetricsEndpoint(rq_sync, registry=CollectorRegistry(), cache_s=1.0)
    endpoint.render_sync(None)  # learns the queue names and workers (a first scrape asks twice)
    time.sleep(1.05)
    probe = redis.Redis.from_url(redis_url)
    try:
        before = commands_so_far(probe)
        endpoint.render_sync(None)
        one = commands_so_far(probe) - before
        time.sleep(1.05)
        reads = endpoint.cluster.reads
        before = commands_so_far(probe)
        bodies = {endpoint.render_sync(None)[0] for _ in range(10)}
        ten = commands_so_far(probe) - before
    finally:
        probe.close()
    assert endpoint.cluster.reads == reads + 1
    assert ten == one
    assert len(bodies) == 1
    known = len(rq_sync.known_queues_sync())
    with capsys.disabled():
        print(f"\nscrape cost: {one} Redis commands for {known} known queues (10 scrapes in 1 s: {ten})")


async def test_concurrent_async_scrapes_share_one_read(rq: RedisQ) -> None:
    endpoint = MetricsEndpoint(rq, registry=CollectorRegistry(), cache_s=5.0)
    bodies = await asyncio.gather(*(endpoint.render(None) for _ in range(10)))
    assert endpoint.cluster.reads == 1
    assert len({body for body, _ in bodies}) == 1


async def test_redis_unreachable_is_redisq_up_0(redis_url: str) -> None:
    from redisq.core.embedded import free_port

    gone = RedisQ(f"redis://127.0.0.1:{free_port()}/0")
    try:
        body, _ = await MetricsEndpoint(gone, registry=CollectorRegistry()).render(None)
    finally:
        await gone.aclose()
    samples = parse(body.decode())
    assert value(samples, names.UP) == 0
    assert not any(name.startswith("redisq_queue") for name, _ in samples)


def test_openmetrics_when_asked(rq_sync: RedisQ) -> None:
    body, content_type = MetricsEndpoint(rq_sync, registry=CollectorRegistry()).render_sync(
        "application/openmetrics-text; version=1.0.0"
    )
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


def test_without_prometheus_client_the_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "import redisq.cli\n"  # the worker commands do not need it
        "from redisq.core.errors import MissingDependency\n"
        "try:\n"
        "    from redisq.prometheus import MetricsEndpoint\n"
        "except MissingDependency as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [__import__("sys").executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'redisq[prometheus]'" in done.stdout


async def test_every_grafana_expression_uses_exposed_metrics(rq: RedisQ, queue: str) -> None:
    """examples/grafana/redisq.json: each expr names only series that a real scrape holds."""
    registry = CollectorRegistry()
    instrument(rq, registry)

    @rq.task(name="shown")
    async def shown() -> None:
        return None

    await shown.enqueue()
    async with running_worker(rq):
        await wait_for(lambda: _succeeded(rq, queue, 1))
        body, _ = await MetricsEndpoint(rq, registry=registry).render(None)
    # The series each family declares (a counter of nothing yet has no sample, and is still exposed).
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    exposed = {
        family.name + suffix
        for family in text_string_to_metric_families(body.decode())
        for suffix in suffixes[family.type]
    }
    dashboard = json.loads((ROOT / "examples" / "grafana" / "redisq.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exprs.append(dashboard["templating"]["list"][1]["query"])
    assert len(exprs) > 20
    for expr in exprs:
        used = set(re.findall(r"\bredisq_[a-z_]+", expr))
        assert used, expr
        assert used <= exposed, (expr, used - exposed)
        for label in re.findall(r"by \(([^)]*)\)", expr):
            assert {part.strip() for part in label.split(",")} <= {"queue", "task", "state", "le"}, expr


async def _succeeded(rq: RedisQ, queue: str, n: int) -> bool:
    return (await rq.stats(queue)).counters["succeeded"] >= n


def test_the_collector_joins_a_metrics_route_the_app_already_has(rq_sync: RedisQ, queue: str) -> None:
    """An app that serves prometheus_client's own /metrics registers the collector in its registry: the
    redisq numbers come out of that route (prometheus_client's WSGI server, over real HTTP)."""
    from prometheus_client import start_http_server

    from redisq.prometheus import ClusterCollector

    @rq_sync.task(name="joined")
    def joined() -> None:
        return None

    for _ in range(4):
        joined.delay()
    registry = CollectorRegistry()
    registry.register(ClusterCollector(rq_sync))
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        text = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics").text
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    promtoolkit.check(text)
    samples = parse(text)
    assert value(samples, "redisq_jobs_enqueued_total", queue=queue, task="joined") == 4
    assert value(samples, names.QUEUE_DEPTH, queue=queue, state="queued") == 4
    assert value(samples, names.UP) == 1
