"""The Lua scripts, read from the package once and registered once per Redis client."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Generic, TypeVar

S = TypeVar("S")


@functools.cache
def script_source(name: str) -> str:
    """common.lua, then checks.lua if the script calls a function of it, then the script: each function
    defined costs on every call, and only the scripts that may find damage need checks.lua."""
    folder = resources.files("redisq.core") / "scripts"
    body = (folder / f"{name}.lua").read_text()
    checks = (folder / "checks.lua").read_text()
    parts = [(folder / "common.lua").read_text()]
    if any(re.search(rf"\b{fn}\(", body) for fn in re.findall(r"^local function (\w+)", checks, re.M)):
        parts.append(checks)
    return "\n".join([*parts, body])


@dataclass(frozen=True)
class Scripts(Generic[S]):
    enqueue: S
    fetch: S
    finish: S
    renew: S
    sweep: S
    cancel: S
    abort: S
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
