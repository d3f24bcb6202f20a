"""`flask redisq worker|stats|requeue-dead` and the operator commands (`queues`, `jobs`, `job`, `retry`,
`monitor`, ...): the `redisq` CLI for the app that `flask` loads, on that app's own client."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo, with_appcontext

from redisq.cli.supervisor import rerun_command, supervise
from redisq.cli.worker import run_options, tuning_options
from redisq.core.client import RedisQ as Client
from redisq.core.config import WorkerSettings
from redisq.prometheus.options import serve_metrics

T = TypeVar("T")


def _client() -> Client:
    return current_app.extensions["redisq"].client  # type: ignore[no-any-return]


@click.command("worker")
@with_appcontext
@tuning_options("REDISQ_QUEUES / REDISQ_CONCURRENCY of the app's config")
@run_options
def worker(
    queues: tuple[list[str], dict[str, int]] | None,
    concurrency: int | None,
    grace: float | None,
    lease: float | None,
    burst: bool,
    processes: int,
    reload: bool,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Run a worker until SIGTERM or SIGINT; every task runs inside this app's app context."""
    from redisq.console import configure_logging
    from redisq.core.worker import Worker

    configure_logging()
    if reload or processes > 1:  # `python -m flask ... redisq worker` in each child, without these two
        sys.exit(supervise(rerun_command("flask"), processes, reload))
    state = current_app.extensions["redisq"]
    names, caps = queues if queues is not None else (state.worker_queues, None)
    given: dict[str, Any] = {
        "concurrency": concurrency or state.concurrency,
        "shutdown_grace_s": grace,
        "lease_s": lease,
    }
    settings = WorkerSettings(**{name: value for name, value in given.items() if value is not None})
    serve_metrics(state.client, metrics_port, metrics_host)
    sys.exit(
        Worker(state.client, names, queue_concurrency=caps, settings=settings, burst=burst).run_standalone()
    )


@click.command("stats")
@with_appcontext
def stats() -> None:
    """Print each queue's counts."""
    from redisq.console import print_stats

    client = _client()
    print_stats(client, client.known_queues_sync())


@click.command("requeue-dead")
@with_appcontext
@click.argument("queue")
def requeue_dead(queue: str) -> None:
    """Put every dead job of QUEUE back on it."""
    click.echo(f"requeued {_client().requeue_dead_sync(queue)} jobs")


class FlaskTarget:
    """What the shared operator commands (redisq/cli/) work on here: the loaded app's client, its async
    handlers run on the app's own loop thread (as its admin views run them)."""

    def __init__(self, info: ScriptInfo) -> None:
        self.info = info

    def client(self) -> Client:
        return self.info.load_app().extensions["redisq"].client  # type: ignore[no-any-return]

    def call(self, fn: Callable[[Client], Awaitable[T]]) -> T:
        state = self.info.load_app().extensions["redisq"]

        async def run() -> T:
            return await fn(state.client)

        return state.bridge.run(run())  # type: ignore[no-any-return]

    def close(self) -> None:
        """The app's client is the app's to close."""


@click.pass_context
def _with_target(ctx: click.Context) -> None:
    from redisq.cli.target import TARGET

    ctx.meta[TARGET] = FlaskTarget(ctx.ensure_object(ScriptInfo))


def make_cli() -> AppGroup:
    """The `flask redisq` group (one per app: no module-level state); commands run in the app's context."""
    from redisq.cli import OPERATOR_COMMANDS

    group = AppGroup("redisq", help="Background jobs of this app (redisq).", callback=_with_target)
    group.add_command(worker)
    group.add_command(stats)
    group.add_command(requeue_dead)
    for command in OPERATOR_COMMANDS:
        group.add_command(command)
    return group
