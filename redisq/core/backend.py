"""Sans-I/O operations and the two drivers that run them.

An operation is a generator: it yields a request (a script call, a command, or a list of them meaning one
pipelined round trip), receives the reply, and finally returns its value. Each operation is written once
(in `ops.py`); `AsyncBackend` and `SyncBackend` only do the I/O, as httpx does with its two clients.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import redis
import redis.asyncio
from redis.commands.core import AsyncScript, Script

from .errors import RedisUnavailable
from .scripts import Scripts

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ScriptCall:
    name: str  # a field of `Scripts`
    keys: Sequence[str]
    args: Sequence[Any]


@dataclass(frozen=True, slots=True)
class Command:
    args: tuple[Any, ...]


Single: TypeAlias = ScriptCall | Command
# A list is one round trip and is answered with a list of replies; a list of one needs no pipeline.
Request: TypeAlias = Single | list[Single]
Op: TypeAlias = Generator[Request, Any, T]

UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@contextlib.contextmanager
def unavailable_as_redisq_error() -> Iterator[None]:
    try:
        yield
    except UNAVAILABLE as exc:
        raise RedisUnavailable(f"Redis is unavailable: {exc}") from exc


def _drive(op: Op[T], first: bool, reply: Any) -> tuple[bool, Request | T]:
    try:
        return False, (next(op) if first else op.send(reply))
    except StopIteration as stop:
        return True, stop.value


class AsyncBackend:
    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client
        self.scripts: Scripts[AsyncScript] = Scripts.register(client.register_script)

    async def run(self, op: Op[T]) -> T:
        with unavailable_as_redisq_error():
            done, request = _drive(op, True, None)
            while not done:
                reply = await self.execute(request)  # type: ignore[arg-type]
                done, request = _drive(op, False, reply)
            return request  # type: ignore[return-value]

    async def execute(self, request: Request) -> Any:
        if isinstance(request, ScriptCall):
            return await getattr(self.scripts, request.name)(keys=request.keys, args=request.args)
        if isinstance(request, Command):
            return await self.client.execute_command(*request.args)
        if len(request) == 1:
            return [await self.execute(request[0])]
        pipe = self.client.pipeline(transaction=False)
        for item in request:
            if isinstance(item, ScriptCall):
                await getattr(self.scripts, item.name)(keys=item.keys, args=item.args, client=pipe)
            else:
                pipe.execute_command(*item.args)
        return await pipe.execute()

    async def aclose(self) -> None:
        await self.client.aclose()


class SyncBackend:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.scripts: Scripts[Script] = Scripts.register(client.register_script)

    def run(self, op: Op[T]) -> T:
        with unavailable_as_redisq_error():
            done, request = _drive(op, True, None)
            while not done:
                reply = self.execute(request)  # type: ignore[arg-type]
                done, request = _drive(op, False, reply)
            return request  # type: ignore[return-value]

    def execute(self, request: Request) -> Any:
        if isinstance(request, ScriptCall):
            return getattr(self.scripts, request.name)(keys=request.keys, args=request.args)
        if isinstance(request, Command):
            return self.client.execute_command(*request.args)
        if len(request) == 1:
            return [self.execute(request[0])]
        pipe = self.client.pipeline(transaction=False)
        for item in request:
            if isinstance(item, ScriptCall):
                getattr(self.scripts, item.name)(keys=item.keys, args=item.args, client=pipe)
            else:
                pipe.execute_command(*item.args)
        return pipe.execute()

    def close(self) -> None:
        self.client.close()
