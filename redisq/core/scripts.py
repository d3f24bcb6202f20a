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
# In this order: limits.lua uses `checked` from common.lua only; jobs.lua (`enqueue_jobs`: enqueue.lua and a
# schedule's tick, issue 12) uses common.lua's functions only.
LIBRARIES = ("checks.lua", "limits.lua", "jobs.lua")


@functools.cache
def script_source(name: str) -> str:
    """common.lua, then each library of LIBRARIES that the script calls a function of, then the script:
    each function defined costs on every call, so a script gets only the libraries it uses."""
    folder = resources.files("redisq.core") / "scripts"
    body = (folder / f"{name}.lua").read_text()
    parts = [(folder / "common.lua").read_text()]
    for library in LIBRARIES:
        source = (folder / library).read_text()
        if any(re.search(rf"\b{fn}\(", body) for fn in re.findall(r"^local function (\w+)", source, re.M)):
            parts.append(source)
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
    schedule_claim: S
    schedule_write: S

    @classmethod
    def register(cls, register: Callable[[str], S]) -> Scripts[S]:
        """`register` is a client's `register_script` (sync or async)."""
        return cls(**{f.name: register(script_source(f.name)) for f in dataclasses.fields(cls)})
