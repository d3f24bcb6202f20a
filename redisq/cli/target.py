"""Which Redis an operator command works on, and how it runs the admin layer's async handlers.

`redisq <command>` connects from `--url` / REDISQ_URL / the config file (or, with `--app`, through the
app's own client); `flask redisq <command>` uses the client of the app that `flask` loaded. Both put a
`Target` in the click context's `meta`, and the shared commands ask for it there.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import click

from redisq.core.client import RedisQ
from redisq.core.config_file import ResolvedConfig, load_config

T = TypeVar("T")
TARGET = "redisq.target"


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


class Target(Protocol):
    def client(self) -> RedisQ: ...

    def call(self, fn: Callable[[RedisQ], Awaitable[T]]) -> T:
        """Run an async handler on the client and return its result (the command itself is sync)."""
        ...

    def close(self) -> None: ...


class CliTarget:
    """The `redisq` group's connection: built on first use from its options, the environment and the file."""

    def __init__(self, url: str | None, config_path: str | None, app: str | None) -> None:
        self.url, self.config_path, self.app = url, config_path, app
        self._client: RedisQ | None = None

    def config(
        self, args: dict[str, Any] | None = None, names: dict[str, str] | None = None
    ) -> ResolvedConfig:
        given = {"client.url": self.url, **(args or {})}
        return load_config(
            given, config_path=self.config_path, arg_names={"client.url": "--url", **(names or {})}
        )

    def client(self) -> RedisQ:
        if self._client is None:
            if self.app is not None:
                self._client = load_app(self.app)
            else:
                settings = self.config().settings
                if settings.url is None:
                    # An operator command on a throwaway embedded server would show an empty Redis.
                    raise click.UsageError(
                        "no Redis to connect to: give --url, set REDISQ_URL, or set url in redisq.toml "
                        "([client]); or --app module:attr to use an app's client"
                    )
                self._client = RedisQ(settings=settings)
        return self._client

    def call(self, fn: Callable[[RedisQ], Awaitable[T]]) -> T:
        rq = self.client()

        async def run() -> T:
            try:
                return await fn(rq)
            finally:
                await rq.aclose()  # this loop's connections; the next call opens its own

        return asyncio.run(run())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def current_target() -> Target:
    ctx = click.get_current_context()
    target = ctx.meta.get(TARGET)
    if target is None:  # pragma: no cover - every group that adds these commands sets one
        raise click.UsageError("this command runs under `redisq` or `flask redisq`")
    return target  # type: ignore[no-any-return]
