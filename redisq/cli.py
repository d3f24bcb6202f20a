"""The `redisq` command: worker, demo, stats, requeue-dead. Dotted import paths live here only."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

from .console import configure_logging, print_schedules, print_stats, queues_option, worker_queues_option
from .core.client import RedisQ
from .core.config import WorkerSettings
from .core.errors import RedisQError


def load_app(path: str) -> RedisQ:
    """Import `module:attribute`, an attribute holding a RedisQ (or a function returning one)."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise click.BadParameter(f"expected 'module:attribute', got {path!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.BadParameter(f"cannot import {module_name!r}: {exc}") from exc
    obj: Any = getattr(module, attr, None)
    if callable(obj) and not isinstance(obj, RedisQ):
        obj = obj()
    if not isinstance(obj, RedisQ):
        raise click.BadParameter(f"{path} is not a RedisQ instance")
    return obj


@click.group()
@click.option("--log-level", default="INFO", show_default=True, help="Python logging level.")
def main(log_level: str) -> None:
    """redisq: a task queue on Redis for web apps."""
    configure_logging(log_level)  # a job's lines carry its id and the id of the request that enqueued it


@main.command()
@click.argument("app")
@click.option(
    "--queues",
    callback=worker_queues_option,
    help="Comma-separated, highest priority first; NAME:N runs at most N jobs of that queue at once "
    "(e.g. emails:5,reports:2). Default: every queue the tasks use.",
)
@click.option("--concurrency", type=int, default=10, show_default=True, help="Jobs at once.")
@click.option(
    "--grace", type=float, default=25.0, show_default=True, help="Seconds to finish jobs on SIGTERM."
)
@click.option("--lease", type=float, default=10.0, show_default=True, help="Lease length in seconds.")
@click.option("--burst", is_flag=True, help="Exit (0) once nothing is queued, due or running on the queues.")
def worker(
    app: str,
    queues: tuple[list[str], dict[str, int]] | None,
    concurrency: int,
    grace: float,
    lease: float,
    burst: bool,
) -> None:
    """Run a worker for APP (module:attribute) until SIGTERM or SIGINT (or, with --burst, drained)."""
    from .core.worker import Worker

    rq = load_app(app)
    settings = WorkerSettings(concurrency=concurrency, shutdown_grace_s=grace, lease_s=lease)
    names, caps = queues or (None, None)
    sys.exit(Worker(rq, names, queue_concurrency=caps, settings=settings, burst=burst).run_standalone())


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
    from .demo import run_demo

    logging.getLogger("redisq").setLevel(logging.ERROR)  # the demo's own lines tell the story
    logging.getLogger("redisq.examples").setLevel(logging.INFO)  # the app's lines, with their request ids
    run_demo(port=port, duration=duration)


@main.command()
@click.argument("app")
@click.option(
    "--queues", callback=queues_option, help="Comma-separated. Default: every queue known to Redis."
)
def stats(app: str, queues: list[str] | None) -> None:
    """Print each queue's counts."""
    rq = load_app(app)
    print_stats(rq, queues or rq.known_queues_sync())


@main.command("requeue-dead")
@click.argument("app")
@click.argument("queue")
def requeue_dead(app: str, queue: str) -> None:
    """Put every dead job of QUEUE back on it."""
    click.echo(f"requeued {load_app(app).requeue_dead_sync(queue)} jobs")


@main.command()
@click.argument("app")
@click.option("--pause", "pause_id", metavar="ID", help="Pause this schedule (no ticks until resumed).")
@click.option("--resume", "resume_id", metavar="ID", help="Resume it, from its first tick after now.")
@click.option("--run", "run_id", metavar="ID", help="Enqueue its job now (its next tick does not move).")
@click.option("--delete", "delete_id", metavar="ID", help="Delete it (one declared in code comes back).")
def schedules(
    app: str, pause_id: str | None, resume_id: str | None, run_id: str | None, delete_id: str | None
) -> None:
    """List the periodic jobs of APP's Redis, after doing what an option asks."""
    rq = load_app(app)
    if pause_id is not None:
        rq.schedules.pause_sync(pause_id)
        click.echo(f"paused {pause_id}")
    if resume_id is not None:
        rq.schedules.resume_sync(resume_id)
        click.echo(f"resumed {resume_id}")
    if run_id is not None:
        click.echo(f"enqueued {rq.schedules.run_now_sync(run_id).id}")
    if delete_id is not None:
        rq.schedules.delete_sync(delete_id)
        click.echo(f"deleted {delete_id}")
    print_schedules(rq.schedules.list_sync())


def run() -> None:
    try:
        main()
    except RedisQError as exc:
        raise SystemExit(f"redisq: {exc}") from exc
