"""`redisq worker --metrics-port` in real worker processes (issue 14): the worker's own metrics server on
127.0.0.1, and prometheus_client's multiprocess mode (two processes write, one scrape sums)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import start_http_server
from prometheus_client.parser import text_string_to_metric_families

from redisq import RedisQ
from redisq.core.embedded import free_port
from redisq.prometheus import MetricsEndpoint

ROOT = Path(__file__).resolve().parent.parent
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp writes them) of the sockets listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def start_worker(
    redis_url: str, prefix: str, queue: str, port: int, env: dict[str, str]
) -> subprocess.Popen[str]:
    command = ["worker", "tests.promapp:rq", "--concurrency", "2", "--metrics-port", str(port)]
    return subprocess.Popen(
        [sys.executable, "-c", "from redisq.cli import run; run()", *command],
        cwd=ROOT,
        env={**os.environ, **env, "REDISQ_URL": redis_url, "PROM_PREFIX": prefix, "PROM_QUEUE": queue},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def wait_until_up(url: str, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, process.communicate()[0]
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the worker's metrics server did not come up"
        time.sleep(0.1)


def run_jobs(rq: RedisQ, queue: str, n: int) -> None:
    @rq.task(name="promapp.work")
    def work(n: int) -> int:
        return n

    rq.enqueue_many_sync([work.call(i) for i in range(n)])
    deadline = time.monotonic() + 60
    while rq.stats_sync(queue).counters["succeeded"] < n:
        assert time.monotonic() < deadline, "the jobs did not run"
        time.sleep(0.05)


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return output


def test_worker_metrics_port_serves_on_localhost(
    rq_sync: RedisQ, redis_url: str, prefix: str, queue: str, workers: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    workers.append(start_worker(redis_url, prefix, queue, port, {}))
    url = f"http://127.0.0.1:{port}/metrics"
    wait_until_up(url, workers[0])
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only, not every interface
    run_jobs(rq_sync, queue, 5)
    time.sleep(1.1)  # past the server's cache of the cluster-wide read
    samples = scrape(url)
    labels = (("queue", queue), ("task", "promapp.work"))
    assert samples[("redisq_job_run_seconds_count", labels)] == 5
    assert samples[("redisq_job_wait_seconds_count", labels)] == 5
    assert samples[("redisq_jobs_enqueued_total", labels)] == 5
    assert samples[("redisq_jobs_succeeded_total", labels)] == 5
    assert samples[("redisq_worker_concurrency", ())] == 2
    assert samples[("redisq_worker_jobs_running", ())] == 0
    assert samples[("redisq_queue_workers", (("queue", queue),))] == 1
    stop(workers[0])


def test_multiprocess_mode_sums_the_processes(
    rq_sync: RedisQ,
    redis_url: str,
    prefix: str,
    queue: str,
    tmp_path: Path,
    workers: list[subprocess.Popen[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    ports = [free_port(), free_port()]
    for port in ports:
        workers.append(start_worker(redis_url, prefix, queue, port, env))
    for port, process in zip(ports, workers, strict=True):
        wait_until_up(f"http://127.0.0.1:{port}/metrics", process)
    run_jobs(rq_sync, queue, 40)
    outputs = [stop(process) for process in workers]
    ran = [int(out.rsplit("stopped after ", 1)[1].split()[0]) for out in outputs]
    assert sum(ran) == 40 and min(ran) > 0, ran  # both processes ran some
    assert len(list(tmp_path.glob("histogram_*.db"))) == 2

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    endpoint = MetricsEndpoint(rq_sync)  # multiprocess mode: sums every process's files
    server, thread = start_http_server(0, addr="127.0.0.1", registry=endpoint.registry())
    try:
        samples = scrape(f"http://127.0.0.1:{server.server_port}/metrics")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    labels = (("queue", queue), ("task", "promapp.work"))
    assert samples[("redisq_job_run_seconds_count", labels)] == 40
    assert samples[("redisq_job_wait_seconds_count", labels)] == 40
    assert samples[("redisq_jobs_succeeded_total", labels)] == 40


def test_flask_redisq_worker_metrics_port(
    rq_sync: RedisQ, redis_url: str, prefix: str, workers: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    env = {**os.environ, "REDISQ_URL": redis_url, "REDISQ_PREFIX": prefix, "PYTHONPATH": str(ROOT)}
    flask = [sys.executable, "-m", "flask", "--app", "tests.flaskapp:app", "redisq", "worker"]
    command = [*flask, "--queues", "reports", "--metrics-port", str(port)]
    workers.append(
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    )
    url = f"http://127.0.0.1:{port}/metrics"
    wait_until_up(url, workers[0])
    assert listening_addresses(port) == {"0100007F"}

    @rq_sync.task(name="tests.flaskapp.build_report", queue="reports")
    def build_report(report_id: int) -> dict[str, object]:
        raise AssertionError("runs in the Flask worker")

    job = build_report.delay(4)
    assert job.result_sync(timeout=15)["report"] == 4
    samples = scrape(url)
    labels = (("queue", "reports"), ("task", "tests.flaskapp.build_report"))
    assert samples[("redisq_job_run_seconds_count", labels)] == 1
    assert samples[("redisq_worker_concurrency", ())] == 10
    stop(workers[0])


def test_metrics_port_with_several_processes_is_refused(redis_url: str, prefix: str, queue: str) -> None:
    command = ["worker", "tests.promapp:rq", "--processes", "2", "--metrics-port", str(free_port())]
    env = {**os.environ, "REDISQ_URL": redis_url, "PROM_PREFIX": prefix, "PROM_QUEUE": queue}
    done = subprocess.run(
        [sys.executable, "-c", "from redisq.cli import run; run()", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--metrics-port serves one process" in done.stderr
