"""`python manage.py redisq ...`: the `redisq` command's click group (redisq/integrations/django/cli.py)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from redisq.integrations.django.cli import run


class Command(BaseCommand):
    help = "Background jobs of this project: worker, stats, requeue-dead, queues, jobs, job, retry, ..."

    def run_from_argv(self, argv: list[str]) -> None:
        # click parses the rest: `manage.py redisq worker --help` is the worker's help, not Django's.
        run(argv[2:], f"{os.path.basename(argv[0])} {argv[1]}")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("args", nargs=argparse.REMAINDER)
        return parser

    def print_help(self, prog_name: str, subcommand: str) -> None:
        run(["--help"], f"{os.path.basename(prog_name)} {subcommand}", standalone=False)

    def handle(self, *args: str, **options: Any) -> None:
        """`call_command("redisq", "stats")`: the command's exit code becomes a CommandError."""
        import click
        from django.core.management.base import CommandError

        try:
            code = run(list(args), "redisq", standalone=False)
        except click.ClickException as exc:
            raise CommandError(exc.format_message()) from None
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise CommandError(f"redisq {' '.join(args)} exited with {exc.code}") from None
            return
        if isinstance(code, int) and code != 0:
            raise CommandError(f"redisq {' '.join(args)} exited with {code}")
