"""`redisq config`: every effective setting, and where it came from (arg, env, file or default; under
`manage.py redisq`, settings.REDISQ, env or default)."""

from __future__ import annotations

import click
from rich.table import Table

from redisq.core.config_file import show

from .output import console, echo_json, json_option, operator_command
from .target import TARGET, CliTarget


@click.command("config")
@json_option
@operator_command
def config(as_json: bool) -> None:
    """Print the effective settings and the source of each (passwords and the signing key masked)."""
    target = click.get_current_context().meta[TARGET]
    # `redisq`: options, environment, file; `manage.py redisq`: settings.REDISQ, environment.
    resolved = target.config() if isinstance(target, CliTarget) else target.resolved_config()
    rows = resolved.rows()
    if as_json:
        echo_json(
            {
                "file": None if resolved.file is None else str(resolved.file),
                "settings": {
                    key: {"value": value, "source": origin.kind, "from": origin.name}
                    for key, value, origin in rows
                },
            }
        )
        return
    table = Table(title=f"redisq config (file: {resolved.file or 'none'})")
    for column in ("setting", "value", "source"):
        table.add_column(column)
    for key, value, origin in rows:
        table.add_row(key, show(value), str(origin))
    console().print(table)
