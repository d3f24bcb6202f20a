"""examples/k8s/: the manifests hold what Kubernetes and KEDA need, and the metrics-api trigger works
against the app the manifests run: its URL's path, asked of a real uvicorn serving the example shop with
the TriggerAuthentication's token, answers JSON in which `valueLocation` finds the number to scale on,
and that number follows the queue (a job waiting: 1, none after the worker Deployment's command ran it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from redisq.core.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "examples" / "k8s"
KEDA = "keda.sh/v1alpha1"


def manifests(name: str) -> dict[str, dict[str, Any]]:
    """A file's documents by kind (and name, for a kind that repeats: "Deployment/shop-worker")."""
    docs = list(yaml.safe_load_all((K8S / name).read_text()))
    kinds = [d["kind"] for d in docs]
    return {
        d["kind"] if kinds.count(d["kind"]) == 1 else f"{d['kind']}/{d['metadata']['name']}": d for d in docs
    }


SHOP = manifests("shop.yaml")
METRICS_API = manifests("keda-metrics-api.yaml")
PROMETHEUS = manifests("keda-prometheus.yaml")
SECRET = SHOP["Secret"]["stringData"]


def gjson(doc: Any, path: str) -> Any:
    """The value at a GJSON-style dotted path (KEDA's valueLocation): keys, and list indexes as numbers."""
    for part in path.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return only


def test_the_worker_deployment_and_the_web_tier() -> None:
    worker, web = SHOP["Deployment/shop-worker"], SHOP["Deployment/shop-web"]
    for deployment in (worker, web):
        assert deployment["apiVersion"] == "apps/v1"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"] == labels
        assert {"secretRef": {"name": "shop-redisq"}} in container(deployment)["envFrom"]
    command = container(worker)["command"]
    assert command[:3] == ["redisq", "worker", "redisq.examples.fastapi_app:rq"]
    assert command[command.index("--queues") + 1] == "emails"
    # Kubernetes' SIGKILL comes after the worker's own grace period.
    grace = float(command[command.index("--grace") + 1])
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace
    assert {"name": "EMBEDDED_WORKERS", "value": "0"} in container(web)["env"]
    probes = container(web)
    assert (probes["readinessProbe"]["httpGet"]["path"], probes["livenessProbe"]["httpGet"]["path"]) == (
        "/health",
        "/health/live",
    )
    assert SHOP["Service"]["spec"]["selector"] == web["spec"]["template"]["metadata"]["labels"]
    assert set(SECRET) == {"REDISQ_URL", "ADMIN_TOKEN", "AUTOSCALER_TOKEN"}


def test_the_scaled_objects_name_what_keda_needs() -> None:
    for scaled in (METRICS_API["ScaledObject"], PROMETHEUS["ScaledObject"]):
        assert scaled["apiVersion"] == KEDA
        assert scaled["spec"]["scaleTargetRef"]["name"] == SHOP["Deployment/shop-worker"]["metadata"]["name"]
        assert 0 <= scaled["spec"]["minReplicaCount"] < scaled["spec"]["maxReplicaCount"]
    [trigger] = METRICS_API["ScaledObject"]["spec"]["triggers"]
    assert trigger["type"] == "metrics-api" and trigger["metricType"] == "AverageValue"
    meta = trigger["metadata"]
    assert meta["valueLocation"] == "desired_workers" and float(meta["targetValue"]) == 1
    assert meta["authMode"] == "bearer"
    url = urlsplit(meta["url"])
    service = SHOP["Service"]
    assert url.hostname is not None and url.hostname.split(".")[0] == service["metadata"]["name"]
    assert url.port == service["spec"]["ports"][0]["port"]
    auth = METRICS_API["TriggerAuthentication"]
    assert auth["apiVersion"] == KEDA and trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    [ref] = auth["spec"]["secretTargetRef"]
    assert ref == {"parameter": "token", "name": "shop-redisq", "key": "AUTOSCALER_TOKEN"}
    assert SHOP["Secret"]["metadata"]["name"] == ref["name"] and ref["key"] in SECRET
    [prom] = PROMETHEUS["ScaledObject"]["spec"]["triggers"]
    assert prom["type"] == "prometheus" and float(prom["metadata"]["threshold"]) > 0
    assert 'redisq_queue_depth{queue="emails",state="queued"}' in prom["metadata"]["query"]
    assert urlsplit(prom["metadata"]["serverAddress"]).scheme == "http"


# ---- the trigger against a real server ---------------------------------------------------------------


@pytest.fixture
def shop(redis_url: str, prefix: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The example shop under uvicorn, configured as shop.yaml configures the web Deployment (its Secret
    and env), Redis being this test's; and the environment a worker of that Deployment would get."""
    env = {
        **os.environ,
        **SECRET,
        **{e["name"]: e["value"] for e in container(SHOP["Deployment/shop-web"])["env"]},
        "REDISQ_URL": redis_url,
        "REDISQ_PREFIX": prefix,
        "PYTHONPATH": str(ROOT),
    }
    port = free_port()
    [app] = [arg for arg in container(SHOP["Deployment/shop-web"])["command"] if ":app" in arg]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    try:
        _wait(lambda: _answers(port))
        yield f"http://127.0.0.1:{port}", env
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _wait(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_the_metrics_api_trigger_reads_desired_workers_from_the_app(shop: tuple[str, dict[str, str]]) -> None:
    base, env = shop
    [trigger] = METRICS_API["ScaledObject"]["spec"]["triggers"]
    url = urlsplit(trigger["metadata"]["url"])
    path = f"{url.path}?{url.query}" if url.query else url.path
    keda = {"Authorization": f"Bearer {SECRET['AUTOSCALER_TOKEN']}"}  # what authMode bearer sends

    def value() -> float:
        answer = httpx.get(base + path, headers=keda, timeout=5)
        assert answer.status_code == 200, answer.text
        found = gjson(answer.json(), trigger["metadata"]["valueLocation"])
        assert isinstance(found, (int, float)) and not isinstance(found, bool)
        return float(found)

    assert value() == 0  # idle: KEDA may scale the worker Deployment to zero
    assert httpx.post(f"{base}/signup", json={"email": "ada@example.com"}).status_code == 202
    assert value() == 1  # a job waits and no worker is alive: KEDA activates the tier
    # The autoscaler's token reads and nothing more; without a token, nothing.
    assert httpx.post(f"{base}/queues/emails/pause", headers=keda).status_code == 403
    assert httpx.get(base + path).status_code == 401
    worker_command = container(SHOP["Deployment/shop-worker"])["command"]
    binary = Path(sys.executable).parent / worker_command[0]
    worker = subprocess.Popen([str(binary), *worker_command[1:]], cwd=ROOT, env=env)
    try:
        _wait(lambda: value() == 0)  # the job ran: nothing waits, nothing runs
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=40) == 0
