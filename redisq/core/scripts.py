"""The Lua scripts, read from the package once and registered once per Redis client."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Generic, TypeVar

S = TypeVar("S")


@functools.cache
def script_source(name: str) -> str:
    folder = resources.files("redisq.core") / "scripts"
    return (folder / "common.lua").read_text() + "\n" + (folder / f"{name}.lua").read_text()


@dataclass(frozen=True)
class Scripts(Generic[S]):
    enqueue: S
    fetch: S
    finish: S
    renew: S
    sweep: S
    cancel: S
    watch: S
    requeue_dead: S
    purge: S
    stats: S
    delete: S
    promote: S
    progress: S
    preflight: S

    @classmethod
    def register(cls, register: Callable[[str], S]) -> Scripts[S]:
        """`register` is a client's `register_script` (sync or async)."""
        return cls(**{f.name: register(script_source(f.name)) for f in dataclasses.fields(cls)})
