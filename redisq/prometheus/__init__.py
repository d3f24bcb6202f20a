"""Prometheus metrics for redisq (issue 14): `pip install 'redisq[prometheus]'`.

- `ClusterCollector(rq)`: the cluster-wide numbers read from Redis (queue depths, counters per queue and
  task, oldest job age, paused, live workers): one pipelined read per scrape, cached `cache_s` seconds.
- `instrument(rq)` / `JobMetrics`: per-process histograms of run time and queue wait, worker gauges.
- `MetricsEndpoint(rq)`: what the admin mounts' `/_metrics` route answers (both kinds).
- `serve_worker_metrics(rq, port)`: `redisq worker --metrics-port N`.

The metric names and which aggregate how are in `redisq.prometheus.names`. Importing this package needs
no prometheus_client (the worker commands take their options from it); its names do.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from redisq.core.errors import MissingDependency

from .options import metrics_options, serve_metrics

if TYPE_CHECKING:
    from .cluster import ClusterCollector
    from .exposition import MetricsEndpoint, process_registry
    from .jobs import JobMetrics, instrument
    from .server import serve_worker_metrics

_WHERE = {
    "ClusterCollector": "cluster",
    "MetricsEndpoint": "exposition",
    "process_registry": "exposition",
    "JobMetrics": "jobs",
    "instrument": "jobs",
    "serve_worker_metrics": "server",
}

__all__ = [
    "ClusterCollector",
    "JobMetrics",
    "MetricsEndpoint",
    "instrument",
    "metrics_options",
    "process_registry",
    "serve_metrics",
    "serve_worker_metrics",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    except ModuleNotFoundError as exc:
        if exc.name != "prometheus_client":
            raise
        raise MissingDependency("Prometheus metrics need: pip install 'redisq[prometheus]'") from exc
