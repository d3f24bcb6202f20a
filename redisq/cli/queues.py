"""Queue commands: `queues`, `purge`, `pause`, `resume`, `workers` (operator commands, shared with
`flask redisq`), and the app-based `stats APP`, `requeue-dead APP QUEUE`, `schedules APP`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from redisq.admin import actions
from redisq.admin.payloads import WorkerBody, worker_body
from redisq.console import print_schedules, print_stats, queues_option
from redisq.core.client import RedisQ

from .output import console, echo_json, json_option, operator_command
from .render import queues_table, workers_table
from .target import current_target, load_app

F = TypeVar("F", bound=Callable[..., Any])


@click.command("queues")
@json_option
@operator_command
def queues(as_json: bool) -> None:
    """Every queue: its gauges, counters, throughput and the age of its oldest job."""
    listed = current_target().call(actions.list_queues)
    if as_json:
        echo_json(listed)
    else:
        console().print(queues_table(listed["queues"]))


@click.command("purge")
@click.argument("queue")
@click.option(
    "--state",
    required=True,
    type=click.Choice(actions.PURGEABLE_STATES),
    help="Which jobs to delete (active jobs are held by a worker: cancel or abort them).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@operator_command
def purge(queue: str, state: str, yes: bool, as_json: bool) -> None:
    """Delete every job of QUEUE in one state."""
    target = current_target()
    target.call(lambda rq: actions.require_queue(rq, queue))  # an unknown queue: no question asked
    if not yes:
        click.confirm(f"Delete every {state} job of queue {queue!r}?", abort=True, err=True)
    done = target.call(lambda rq: actions.purge(rq, queue, state))
    if as_json:
        echo_json({"queue": queue, "state": state, **done})
    else:
        click.echo(f"deleted {done['deleted']} {state} jobs of {queue}")


def _pause_command(name: str, paused: bool, doc: str) -> click.Command:
    @click.command(name, help=doc)
    @click.argument("queue")
    @json_option
    @operator_command
    def command(queue: str, as_json: bool) -> None:
        done = current_target().call(lambda rq: actions.set_paused(rq, queue, paused))
        if as_json:
            echo_json(done)
        else:
            click.echo(f"{name}d {queue}")

    return command


pause = _pause_command("pause", True, "Workers fetch nothing more from QUEUE (running jobs finish).")
resume = _pause_command("resume", False, "Workers fetch from QUEUE again.")


@click.command("workers")
@json_option
@operator_command
def workers(as_json: bool) -> None:
    """The live workers (by heartbeat): what each serves, runs now and has done."""

    async def read(rq: RedisQ) -> list[WorkerBody]:
        return [worker_body(w) for w in await rq.workers()]

    listed = current_target().call(read)
    if as_json:
        echo_json({"workers": listed})
    else:
        console().print(workers_table(listed))


# ---- the commands that load an app (before the operator commands existed; kept as they were) -----------


@click.command()
@click.argument("app")
@click.option(
    "--queues", callback=queues_option, help="Comma-separated. Default: every queue known to Redis."
)
def stats(app: str, queues: list[str] | None) -> None:
    """Print each queue's counts."""
    rq = load_app(app)
    print_stats(rq, queues or rq.known_queues_sync())


@click.command("requeue-dead")
@click.argument("app")
@click.argument("queue")
def requeue_dead(app: str, queue: str) -> None:
    """Put every dead job of QUEUE back on it."""
    click.echo(f"requeued {load_app(app).requeue_dead_sync(queue)} jobs")


def schedule_options(command: F) -> F:
    """--pause, --resume, --run and --delete of a `schedules` command (redisq's, manage.py redisq's)."""
    for option in (
        click.option(
            "--delete", "delete_id", metavar="ID", help="Delete it (one declared in code comes back)."
        ),
        click.option(
            "--run", "run_id", metavar="ID", help="Enqueue its job now (its next tick does not move)."
        ),
        click.option("--resume", "resume_id", metavar="ID", help="Resume it, from its first tick after now."),
        click.option(
            "--pause", "pause_id", metavar="ID", help="Pause this schedule (no ticks until resumed)."
        ),
    ):
        command = option(command)
    return command


def run_schedules(
    rq: RedisQ, pause_id: str | None, resume_id: str | None, run_id: str | None, delete_id: str | None
) -> None:
    """Do what the options ask, then list the periodic jobs."""
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


@click.command()
@click.argument("app")
@schedule_options
def schedules(
    app: str, pause_id: str | None, resume_id: str | None, run_id: str | None, delete_id: str | None
) -> None:
    """List the periodic jobs of APP's Redis, after doing what an option asks."""
    run_schedules(load_app(app), pause_id, resume_id, run_id, delete_id)
