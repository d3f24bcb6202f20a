"""Tasks declared on the Flask extension: defined once, registered per app, run in its app context."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from flask import Flask

from redisq.core.jobs import Job
from redisq.core.task import BoundTask, JobSpec, Task

if TYPE_CHECKING:
    from .extension import RedisQ

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class TaskDefinition:
    fn: Callable[..., Any]
    name: str
    options: dict[str, Any]  # keyword arguments of the core `RedisQ.task`


def in_app_context(app: Flask, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` run inside `app.app_context()`: current_app, g and extensions work; teardown runs after it."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return await fn(*args, **kwargs)

        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with app.app_context():
            return fn(*args, **kwargs)

    return run


class FlaskTask(Generic[P, R]):
    """What `@redisq.task` returns: enqueues through the client of the current app."""

    def __init__(self, extension: RedisQ, definition: TaskDefinition) -> None:
        self.extension = extension
        self.definition = definition
        self.name = definition.name
        self.__doc__ = definition.fn.__doc__
        self.__wrapped__ = definition.fn

    def __repr__(self) -> str:
        return f"<FlaskTask {self.name}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = self.definition.fn(*args, **kwargs)
        return result

    @property
    def task(self) -> Task[P, R]:
        """The core task of the current app's client."""
        return self.extension.client.get_task(self.name)

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        return self.task.delay(*args, **kwargs)

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        return await self.task.enqueue(*args, **kwargs)

    def call(self, *args: P.args, **kwargs: P.kwargs) -> JobSpec:
        return self.task.call(*args, **kwargs)

    def with_options(self, **overrides: Any) -> BoundTask[P, R]:
        return self.task.with_options(**overrides)
