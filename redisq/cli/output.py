"""What operator commands print: JSON for scripts (`--json`), rich tables for people, and exit codes.

Exit codes: 0 done; 1 not found or refused (no such job or queue, an action the job's state does not
allow, Redis unavailable, a declined confirmation); 2 a usage mistake (click's own, and a bad parameter).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console

from redisq.admin.errors import error_response
from redisq.core.errors import ConfigurationError, RedisQError

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of a table."
)


def echo_json(data: Any) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())


def console(width: int = 160) -> Console:
    found = Console()
    return found if found.is_terminal else Console(width=width)  # piped: rich would squeeze to 80 columns


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, ConfigurationError):  # a setting given wrong: a usage mistake
        return 2
    found = error_response(exc)
    status = found[0] if found is not None else 500
    return 2 if status in (413, 422) else 1


def operator_command(fn: F) -> F:
    """Errors of redisq become a line on stderr (and `{"error", "detail"}` on stdout with --json) and an
    exit code, instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RedisQError as exc:
            found = error_response(exc)
            detail = str(exc) if found is None else found[1]["detail"]
            if kwargs.get("as_json"):
                echo_json({"error": found[1]["error"] if found else type(exc).__name__, "detail": detail})
            click.echo(f"redisq: {detail}", err=True)
            raise click.exceptions.Exit(exit_code(exc)) from None

    return wrapper  # type: ignore[return-value]
