"""The `redisq` command. Dotted import paths live here only.

Operator commands (`queues`, `jobs`, `job`, `retry`, `cancel`, `abort`, `delete`, `purge`, `pause`,
`resume`, `workers`, `monitor`, `bench`, `config`) connect from `--url` / REDISQ_URL / the config file and
import no app; `worker`, `stats`, `requeue-dead` and `schedules` load one (module:attribute).
"""

from __future__ import annotations

import logging

import click

from redisq.console import configure_logging
from redisq.core.errors import RedisQError

from . import bench, config, jobs, monitor, queues, worker
from .target import TARGET, CliTarget, load_app

__all__ = ["OPERATOR_COMMANDS", "load_app", "main", "run"]

# Also the commands of `flask redisq` (integrations/flask/cli.py), on the app's own client.
OPERATOR_COMMANDS: tuple[click.Command, ...] = (
    queues.queues,
    jobs.jobs,
    jobs.job,
    jobs.retry,
    jobs.cancel,
    jobs.abort,
    jobs.delete,
    queues.purge,
    queues.pause,
    queues.resume,
    queues.workers,
    monitor.monitor,
    bench.bench,
)


@click.group()
@click.option("--log-level", default="INFO", show_default=True, help="Python logging level.")
@click.option("--url", envvar=None, help="Redis URL (default: REDISQ_URL, REDIS_URL, the config file's).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Config file (default: ./redisq.toml, else [tool.redisq] of ./pyproject.toml).",
)
@click.option("--app", "app_path", metavar="MODULE:ATTR", help="Operator commands: use this app's client.")
@click.pass_context
def main(
    ctx: click.Context, log_level: str, url: str | None, config_path: str | None, app_path: str | None
) -> None:
    """redisq: a task queue on Redis for web apps."""
    configure_logging(log_level)  # a job's lines carry its id and the id of the request that enqueued it
    target = CliTarget(url, config_path, app_path)
    ctx.meta[TARGET] = target
    ctx.call_on_close(target.close)


@main.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port on 127.0.0.1; a free one if it is taken.",
)
@click.option(
    "--duration",
    type=click.FloatRange(0, min_open=True),
    help="Stop after this many seconds (default: serve until Ctrl-C).",
)
def demo(port: int, duration: float | None) -> None:
    """Serve the example FastAPI app with a worker, and send it some traffic (needs redisq[fastapi]).

    Embedded throwaway Redis unless REDISQ_URL is set.
    """
    from redisq.demo import run_demo

    logging.getLogger("redisq").setLevel(logging.ERROR)  # the demo's own lines tell the story
    logging.getLogger("redisq.examples").setLevel(logging.INFO)  # the app's lines, with their request ids
    run_demo(port=port, duration=duration)


for _command in (
    worker.worker,
    queues.stats,
    queues.requeue_dead,
    queues.schedules,
    config.config,
    *OPERATOR_COMMANDS,
):
    main.add_command(_command)


def run() -> None:
    try:
        main()
    except RedisQError as exc:
        raise SystemExit(f"redisq: {exc}") from exc
