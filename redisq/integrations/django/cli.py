"""`python manage.py redisq worker|stats|requeue-dead|queues|jobs|job|retry|...`: the `redisq` command for a
Django project, on the project's client, with Django set up (manage.py did it) and every task imported
(the app's ready() autodiscovered them).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from redisq.cli.config import config
from redisq.cli.queues import run_schedules, schedule_options
from redisq.cli.supervisor import child_args, supervise
from redisq.cli.target import TARGET
from redisq.cli.worker import run_options, tuning_options
from redisq.core.client import RedisQ
from redisq.core.config_file import ResolvedConfig
from redisq.core.errors import ConfigurationError
from redisq.core.keys import split_worker_queues
from redisq.integrations.bridge import LoopThread
from redisq.prometheus.options import serve_metrics

from .state import current

T = TypeVar("T")


def rerun_command() -> list[str]:
    """This process's command line as a supervised child runs it: `python manage.py redisq worker ...`
    (or `python -m django ...` when started that way)."""
    script = sys.argv[0]
    start = ["-m", "django"] if os.path.basename(script) == "__main__.py" else [script]
    return [sys.executable, *start, *child_args(sys.argv[1:])]


@click.command("worker")
@tuning_options("settings.REDISQ, then REDISQ_<SETTING>")
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
    """Run a worker until SIGTERM or SIGINT (or, with --burst, drained). Settings: these options, then
    settings.REDISQ, then REDISQ_* in the environment, then the defaults."""
    from redisq.console import configure_logging
    from redisq.core.worker import Worker

    configure_logging()
    if reload or processes > 1:
        sys.exit(supervise(rerun_command(), processes, reload))
    state = current()
    resolved = state.config.resolved
    given: dict[str, Any] = {"concurrency": concurrency, "shutdown_grace_s": grace, "lease_s": lease}
    try:
        settings = dataclasses.replace(resolved.worker, **{k: v for k, v in given.items() if v is not None})
        names, caps = queues if queues is not None else (None, None)
        if queues is None and resolved.queues:
            names, caps = split_worker_queues(resolved.queues)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    serve_metrics(state.client, metrics_port, metrics_host)
    run = Worker(state.client, names, queue_concurrency=caps, settings=settings, burst=burst)
    sys.exit(run.run_standalone())


@click.command("stats")
def stats() -> None:
    """Print each queue's counts."""
    from redisq.console import print_stats

    rq = current().client
    print_stats(rq, rq.known_queues_sync())


@click.command("requeue-dead")
@click.argument("queue")
def requeue_dead(queue: str) -> None:
    """Put every dead job of QUEUE back on it."""
    click.echo(f"requeued {current().client.requeue_dead_sync(queue)} jobs")


@click.command("schedules")
@schedule_options
def schedules(pause_id: str | None, resume_id: str | None, run_id: str | None, delete_id: str | None) -> None:
    """List the periodic jobs (those of @task(schedule=...) appear once a worker has started), after doing
    what an option asks."""
    run_schedules(current().client, pause_id, resume_id, run_id, delete_id)


class DjangoTarget:
    """What the shared operator commands (redisq/cli/) work on here: the project's client, its async
    handlers run on a loop thread of this command's."""

    def __init__(self) -> None:
        self.bridge = LoopThread("redisq-django-cli")

    def client(self) -> RedisQ:
        return current().client

    def call(self, fn: Callable[[RedisQ], Awaitable[T]]) -> T:
        rq = self.client()

        async def run() -> T:
            return await fn(rq)

        return self.bridge.run(run())

    def resolved_config(self) -> ResolvedConfig:
        """What `config` prints: the settings the app read at start, and where each came from."""
        return current().config.resolved

    def close(self) -> None:
        self.bridge.stop()


@click.pass_context
def _with_target(ctx: click.Context) -> None:
    target = DjangoTarget()
    ctx.meta[TARGET] = target
    ctx.call_on_close(target.close)


def make_cli() -> click.Group:
    """The group that `manage.py redisq` runs (a new one per call: no module-level state)."""
    from redisq.cli import OPERATOR_COMMANDS

    group = click.Group("redisq", help="Background jobs of this project (redisq).", callback=_with_target)
    for command in (worker, stats, requeue_dead, schedules, config, *OPERATOR_COMMANDS):
        group.add_command(command)
    return group


def run(args: list[str], prog_name: str, standalone: bool = True) -> Any:
    """Run the group on `args` as `prog_name`; standalone (manage.py) it exits with the command's code."""
    return make_cli().main(args=args, prog_name=prog_name, standalone_mode=standalone)
