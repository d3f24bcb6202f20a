"""`--metrics-port` and `--metrics-host` for the worker commands (`redisq worker`, `flask redisq worker`).

Imports no prometheus_client: the commands are defined whether or not the extra is installed, and only
`--metrics-port` asks for it (MissingDependency, with the pip command, when it is absent).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:
    from redisq.core.client import RedisQ

F = TypeVar("F", bound=Callable[..., Any])


def metrics_options(command: F) -> F:
    """Adds `metrics_port: int | None` and `metrics_host: str` to a click command; the command calls
    `serve_metrics(rq, metrics_port, metrics_host)` before its worker starts."""

    @functools.wraps(command)
    def refusing_processes(*args: Any, **kwargs: Any) -> Any:
        # N processes under a supervisor would each bind the one port: refused until they share it.
        if kwargs.get("metrics_port") is not None and kwargs.get("processes", 1) > 1:
            raise click.UsageError(
                "--metrics-port serves one process: run one `redisq worker --metrics-port` per process "
                "(each its own port), or serve /_metrics from the app with PROMETHEUS_MULTIPROC_DIR"
            )
        return command(*args, **kwargs)

    with_host = click.option(
        "--metrics-host",
        default="127.0.0.1",
        show_default=True,
        help="Interface of the metrics server (0.0.0.0: every interface, only if you mean it).",
    )(refusing_processes)
    with_port = click.option(
        "--metrics-port",
        type=click.IntRange(0, 65535),
        default=None,
        help="Serve Prometheus metrics on this port at /metrics (needs redisq[prometheus]).",
    )(with_host)
    return cast(F, with_port)


def serve_metrics(rq: RedisQ, port: int | None, host: str) -> None:
    """Start the worker's metrics server when a port was given (before the worker: it adds middleware)."""
    if port is None:
        return
    from redisq.prometheus import serve_worker_metrics

    serve_worker_metrics(rq, port, host)
