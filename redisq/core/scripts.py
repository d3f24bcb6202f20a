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
# In this order, each library using only those before it: checks.lua uses metrics.lua's (issue 17);
# limits.lua uses `checked` from common.lua; workflow.lua (issue 16, `workflow_lib`) common.lua's functions;
# jobs.lua (`enqueue_jobs`: enqueue.lua and a schedule's tick, issue 12) workflow.lua's; attempts.lua (a
# job's history of attempts, issue 17) common.lua's.
LIBRARIES = ("metrics.lua", "attempts.lua", "checks.lua", "limits.lua", "workflow.lua", "jobs.lua")


@functools.cache
def script_source(name: str) -> str:
    """common.lua, then each library of LIBRARIES that the script calls a function of (or a library it
    takes calls), then the script: each function defined costs on every call, so a script gets only the
    libraries it uses."""
    folder = resources.files("redisq.core") / "scripts"
    body = (folder / f"{name}.lua").read_text()
    users, taken = [body], list[str]()
    for library in reversed(LIBRARIES):  # the last may use the earlier ones
        source = (folder / library).read_text()
        names = re.findall(r"^local function (\w+)", source, re.M)
        if any(re.search(rf"\b{fn}\(", user) for user in users for fn in names):
            users.append(source)
            taken.insert(0, source)
    return "\n".join([(folder / "common.lua").read_text(), *taken, body])


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
    dep_done: S
    dep_link: S
    dep_results: S
    outbox_done: S
    search: S  # issue 17: the candidates of a batch of one index (search.py)
    retry_edited: S

    @classmethod
    def register(cls, register: Callable[[str], S]) -> Scripts[S]:
        """`register` is a client's `register_script` (sync or async)."""
        return cls(**{f.name: register(script_source(f.name)) for f in dataclasses.fields(cls)})
