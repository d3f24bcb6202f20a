"""Terminal output shared by the `redisq` and `flask redisq` commands."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone

import click
from rich.console import Console
from rich.table import Table

from .core.client import RedisQ
from .core.context import LogContext
from .core.errors import ConfigurationError
from .core.keys import split_queue_names, split_worker_queues
from .core.schedules import ScheduleInfo


def queues_option(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """`--queues a,b` of `redisq worker|stats` and `flask redisq worker`: each name usable, or a usage error
    that states the rule."""
    if value is None:
        return None
    try:
        return split_queue_names(value)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


def worker_queues_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[list[str], dict[str, int]] | None:
    """`--queues emails:5,reports:2` of a worker: the names, and the per-queue caps of this worker."""
    if value is None:
        return None
    try:
        return split_worker_queues(value)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


def print_stats(rq: RedisQ, queues: Sequence[str]) -> None:
    """One row per queue (`redisq stats APP`, `flask redisq stats`): the table of `redisq queues`."""
    from .admin.payloads import queue_summary
    from .cli.render import queues_table

    table = queues_table([queue_summary(s) for s in rq.stats_many_sync(queues)])
    console = Console()
    if not console.is_terminal:  # piped or captured: rich would squeeze the table into 80 columns
        console = Console(width=160)
    console.print(table)


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def print_schedules(schedules: Sequence[ScheduleInfo]) -> None:
    """One row per periodic job: what and when, its next run, its last run and the job that run wrote."""
    table = Table()
    for column in ("Id", "Task", "Queue", "When", "Next run", "Last run", "Last job", "Origin"):
        table.add_column(column)
    for s in schedules:
        t = s.timing
        if t is None:
            when = "(damaged)"
        else:
            when = f"cron {t.cron} {t.tz}" if t.cron is not None else f"every {(t.every_ms or 0) / 1000:g}s"
        next_run = "paused" if s.paused else _when(s.next_ms)
        last_job = f"{s.queue}:{s.last_job_uid}" if s.last_job_uid else "-"
        table.add_row(s.id, s.task, s.queue, when, next_run, _when(s.last_run_ms), last_job, s.origin)
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)


def configure_logging(level: str = "INFO") -> None:
    """Log lines to stderr that carry the running job's id and the id of the request that enqueued it."""
    handler = logging.StreamHandler()
    handler.addFilter(LogContext())
    line = "%(asctime)s %(levelname)s %(name)s [job=%(job_id)s req=%(request_id)s]: %(message)s"
    handler.setFormatter(logging.Formatter(line))
    logging.basicConfig(level=level.upper(), handlers=[handler])
