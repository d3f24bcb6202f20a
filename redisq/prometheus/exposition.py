"""Serving the metrics: what a `/metrics` route answers, in every adapter and the worker's own server.

One scrape answers the cluster-wide numbers of a `ClusterCollector` (cached per endpoint) and the
per-process metrics of a registry: by default prometheus_client's own (where `instrument` puts its
histograms), or, when PROMETHEUS_MULTIPROC_DIR is set (gunicorn, uvicorn --workers), every process's
files summed by a `MultiProcessCollector`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from redisq.core.client import RedisQ

from .cluster import ClusterCollector, ClusterNumbers, families

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def process_registry(registry: CollectorRegistry | None = None) -> CollectorRegistry:
    """The registry of per-process metrics to expose: `registry` if given; in multiprocess mode a new one
    that sums every process's files; else prometheus_client's default."""
    if registry is not None:
        return registry
    if os.environ.get(MULTIPROC_ENV):
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return merged
    return REGISTRY


class _Scrape(Collector):
    """One scrape's families: the numbers read for it, then the process's metrics."""

    def __init__(self, numbers: ClusterNumbers | None, process: CollectorRegistry) -> None:
        self._numbers, self._process = numbers, process

    def collect(self) -> Iterator[Any]:
        yield from families(self._numbers)
        yield from self._process.collect()


class MetricsEndpoint:
    """What `/metrics` answers for one client: build one per mounted app or server (its cache is its
    own), then `await render(accept)` (async routes) or `render_sync(accept)` (threads)."""

    def __init__(
        self, rq: RedisQ, *, registry: CollectorRegistry | None = None, cache_s: float = 1.0
    ) -> None:
        self.cluster = ClusterCollector(rq, cache_s=cache_s)
        self.process = process_registry(registry)

    @staticmethod
    def _encode(
        numbers: ClusterNumbers | None, process: CollectorRegistry, accept: str | None
    ) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept or "")
        return encoder(_Scrape(numbers, process)), content_type

    async def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """(body, content type): the text format, or OpenMetrics when the Accept header asks for it."""
        return self._encode(await self.cluster.numbers(), self.process, accept)

    def render_sync(self, accept: str | None = None) -> tuple[bytes, str]:
        return self._encode(self.cluster.numbers_sync(), self.process, accept)

    def registry(self) -> CollectorRegistry:
        """A registry that reads through this endpoint (for prometheus_client's own servers)."""
        out = CollectorRegistry(auto_describe=False)
        out.register(_Live(self))
        return out


class _Live(Collector):
    """An endpoint as a collector: each collect() is a scrape (through the endpoint's cache)."""

    def __init__(self, endpoint: MetricsEndpoint) -> None:
        self._endpoint = endpoint

    def describe(self) -> list[Any]:
        return []  # registering must not read Redis

    def collect(self) -> Iterator[Any]:
        endpoint = self._endpoint
        yield from _Scrape(endpoint.cluster.numbers_sync(), endpoint.process).collect()
