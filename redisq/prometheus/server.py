"""The worker's own metrics server: `redisq worker --metrics-port N [--metrics-host 127.0.0.1]`."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

from redisq.core.client import RedisQ

from .exposition import MetricsEndpoint
from .jobs import instrument

DEFAULT_HOST = "127.0.0.1"  # never every interface unless asked: metrics name queues and tasks


def serve_worker_metrics(
    rq: RedisQ, port: int, host: str = DEFAULT_HOST, registry: CollectorRegistry | None = None
) -> tuple[WSGIServer, threading.Thread]:
    """Instrument `rq`'s workers (call before they start) and serve `/metrics` on host:port from a daemon
    thread: the per-process metrics and the cluster-wide ones (cached 1 s). Returns prometheus_client's
    (server, thread); `server.shutdown()` stops it."""
    # In multiprocess mode the metrics still live in the default registry (their values go to the files);
    # the endpoint exposes the files' sum instead.
    instrument(rq, registry if registry is not None else REGISTRY)
    endpoint = MetricsEndpoint(rq, registry=registry)
    return start_http_server(port, addr=host, registry=endpoint.registry())
