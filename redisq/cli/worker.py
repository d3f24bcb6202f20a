"""`redisq worker [APP]`: one worker, N under a supervisor (`--processes`), or one reloaded on changes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from redisq.console import worker_queues_option
from redisq.core.errors import ConfigurationError
from redisq.core.keys import split_worker_queues
from redisq.logs import log_format_option
from redisq.prometheus.options import metrics_options, serve_metrics

from .supervisor import processes_option, reload_option, rerun_command, supervise
from .target import TARGET, CliTarget, load_app

# The worker's options as config keys, and the option each is given by (for `redisq config`'s sources).
OPTION_KEYS = {
    "app": ("app", "APP"),
    "queues": ("worker.queues", "--queues"),
    "concurrency": ("worker.concurrency", "--concurrency"),
    "grace": ("worker.shutdown_grace_s", "--grace"),
    "lease": ("worker.lease_s", "--lease"),
}


def _queue_spec(value: tuple[list[str], dict[str, int]] | None) -> str | None:
    if value is None:
        return None
    names, caps = value
    return ",".join(f"{n}:{caps[n]}" if n in caps else n for n in names)


F = TypeVar("F", bound=Callable[..., Any])


def run_options(command: F) -> F:
    """How a worker runs, the same for `redisq worker` and `flask redisq worker`: --burst, --processes,
    --reload, --metrics-port/--metrics-host and --log-format."""
    for option in (log_format_option, metrics_options, reload_option, processes_option):
        command = option(command)
    return click.option(
        "--burst", is_flag=True, help="Exit (0) once nothing is queued, due or running on the queues."
    )(command)


def tuning_options(defaults: str) -> Callable[[F], F]:
    """--queues, --concurrency, --grace and --lease, the same for `redisq worker`, `flask redisq worker`
    and `manage.py redisq worker`; `defaults` says where each command takes what is not given."""

    def add(command: F) -> F:
        for option in (
            click.option("--lease", type=float, help="Lease length in seconds. Default: 10."),
            click.option("--grace", type=float, help="Seconds to finish jobs on SIGTERM. Default: 25."),
            click.option("--concurrency", type=int, help=f"Jobs at once. Default: {defaults}, else 10."),
            click.option(
                "--queues",
                callback=worker_queues_option,
                help="Comma-separated, highest priority first; NAME:N runs at most N jobs of that queue at "
                f"once (e.g. emails:5,reports:2). Default: {defaults}, else every queue the tasks use.",
            ),
        ):
            command = option(command)
        return command

    return add


@click.command()
@click.argument("app", required=False)
@tuning_options("REDISQ_<SETTING>, then the config file's")
@run_options
def worker(
    app: str | None,
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
    """Run a worker for APP (module:attribute; default: REDISQ_APP or the config file's `app`) until SIGTERM
    or SIGINT (or, with --burst, drained). Settings: options > REDISQ_* > redisq.toml > defaults."""
    target = click.get_current_context().meta[TARGET]
    assert isinstance(target, CliTarget)
    if target.url is not None:  # silently ignored, it would look like the worker used it
        raise click.UsageError(
            "--url is for the operator commands: a worker uses its app's client (REDISQ_URL)"
        )
    given: dict[str, Any] = {
        "app": app or target.app,
        "queues": _queue_spec(queues),
        "concurrency": concurrency,
        "grace": grace,
        "lease": lease,
    }
    try:
        resolved = target.config(
            {OPTION_KEYS[k][0]: v for k, v in given.items()},
            dict(OPTION_KEYS.values()),
        )
        names, caps = split_worker_queues(resolved.queues) if resolved.queues else (None, None)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    if resolved.app is None:
        raise click.UsageError(
            "no app to run: give APP (module:attribute), REDISQ_APP, or app in redisq.toml"
        )
    if reload or processes > 1:
        sys.exit(supervise(rerun_command("redisq.cli"), processes, reload))
    from redisq.core.worker import Worker

    rq = load_app(resolved.app)
    serve_metrics(rq, metrics_port, metrics_host)
    run = Worker(rq, names, queue_concurrency=caps, settings=resolved.worker, burst=burst)
    sys.exit(run.run_standalone())
