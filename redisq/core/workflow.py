"""Workflows (issue 16): chains, groups, chords and jobs that depend on other jobs.

A composition is a graph of steps: `chain(a, b, c)` makes each step depend on the one before (and, unless
told otherwise, take its result as its first argument), `group(...)` runs its steps side by side, and
`chord(group, then=step)` runs `step` once every step of the group has ended (with the list of their
results). They nest: a chain may hold groups, a group chains. `RedisQ.enqueue_workflow` sends one; a job
of it that depends on others waits in state `waiting` until they end. See docs/architecture.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

from .errors import ConfigurationError
from .keys import check_name
from .task import JobSpec

if TYPE_CHECKING:
    from .jobs import Job

# What a dependency's failure (it ended dead, cancelled, aborted, expired or deleted; its retries come
# first) does to the job that waits for it, as BullMQ's flows offer: `fail` (the default) ends the waiting
# job dead, `DependencyFailed`, and lets it go on if the dependency is retried and succeeds; `continue`
# starts it at once; `ignore` counts the dependency as ended (its failure stays readable); `remove`
# drops it, as if it had never been declared.
OnFailure: TypeAlias = Literal["fail", "continue", "ignore", "remove"]
ON_FAILURE: tuple[str, ...] = get_args(OnFailure)


# A workflow id goes into a key's hash tag (no braces) and an admin URL (no '/'), like a queue name.
WORKFLOW_ID_RULE = "1 to 200 characters: letters, digits and . _ : @ -"
_WORKFLOW_ID = re.compile(r"[A-Za-z0-9._:@-]{1,200}")


def check_workflow_id(value: object) -> str:
    return check_name(value, _WORKFLOW_ID, "workflow id", WORKFLOW_ID_RULE)


def _policy(value: str) -> OnFailure:
    if value not in ON_FAILURE:
        raise ConfigurationError(f"on_failure must be one of {', '.join(ON_FAILURE)}, got {value!r}")
    return value  # type: ignore[return-value]


@dataclass(frozen=True)
class Dependency:
    """A job that another job waits for: `task.with_options(depends_on=[Dependency(job, "ignore")])`. A
    plain job (or job id) in `depends_on` is a dependency with `on_failure="fail"`."""

    job_id: str
    on_failure: OnFailure = "fail"

    def __post_init__(self) -> None:
        _policy(self.on_failure)

    @classmethod
    def of(cls, item: Job | str | Dependency) -> Dependency:
        if isinstance(item, Dependency):
            return item
        if isinstance(item, str):
            return cls(item)
        return cls(item.id)


@dataclass(frozen=True)
class Step:
    """A step of a composition with its workflow options: what its failure does to the steps after it,
    and whether it takes the result of the step before it (in a chain) as its first argument."""

    spec: JobSpec
    on_failure: OnFailure = "fail"
    takes_result: bool = True

    def __post_init__(self) -> None:
        _policy(self.on_failure)


def step(spec: JobSpec, *, on_failure: OnFailure = "fail", takes_result: bool = True) -> Step:
    return Step(spec, on_failure, takes_result)


Part: TypeAlias = "JobSpec | Step | Chain | Group"


@dataclass(frozen=True)
class Group:
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Chain:
    parts: tuple[Part, ...]


def group(*parts: Part | Iterable[Part]) -> Group:
    """Steps that run side by side: `group(a.call(1), a.call(2))` or `group(a.call(i) for i in ...)`."""
    flat: list[Part] = []
    for part in parts:
        if isinstance(part, (JobSpec, Step, Chain, Group)):
            flat.append(part)
        else:
            flat.extend(part)
    if not flat:
        raise ConfigurationError("a group needs at least one step")
    return Group(tuple(flat))


def chain(*parts: Part) -> Chain:
    """Steps that run one after the other, each once the one before succeeded, each taking the result of
    the one before as its first argument (a group's: the list of its results), unless the step is
    `step(spec, takes_result=False)`."""
    if not parts:
        raise ConfigurationError("a chain needs at least one step")
    return Chain(tuple(parts))


def chord(header: Group | Iterable[Part], then: Part) -> Chain:
    """`then` runs once every step of `header` has ended, with the list of their results."""
    return chain(header if isinstance(header, Group) else group(header), then)


@dataclass
class Node:
    """One job of a compiled workflow: its spec, the nodes (by index) or existing jobs (by id) it waits
    for, each with the policy for its failure, and the results it takes as its first argument."""

    spec: JobSpec
    on_failure: OnFailure
    deps: list[tuple[int | str, OnFailure]] = field(default_factory=list)
    feed: list[int] | None = None  # the nodes whose results it takes
    feed_many: bool = False  # takes a list (its feed was a group), else the one result


def _ends_in_group(part: Part) -> bool:
    """Whether the steps after `part` take a list of results (a group, even of one) or one result."""
    while isinstance(part, Chain):
        part = part.parts[-1]
    return isinstance(part, Group)


def compile_workflow(flow: Part) -> list[Node]:
    """The nodes of a composition, in the order its steps were written."""
    nodes: list[Node] = []

    def add(part: Part) -> tuple[list[int], list[int]]:  # (heads, tails)
        if isinstance(part, (JobSpec, Step)):
            s = part if isinstance(part, Step) else Step(part)
            nodes.append(Node(s.spec, s.on_failure))
            nodes[-1].feed = [] if s.takes_result else None
            return [len(nodes) - 1], [len(nodes) - 1]
        if isinstance(part, Group):
            heads: list[int] = []
            tails: list[int] = []
            for sub in part.parts:
                h, t = add(sub)
                heads += h
                tails += t
            return heads, tails
        if isinstance(part, Chain):
            first, last = add(part.parts[0])
            many = _ends_in_group(part.parts[0])
            for sub in part.parts[1:]:
                h, t = add(sub)
                for head in h:
                    node = nodes[head]
                    node.deps += [(tail, nodes[tail].on_failure) for tail in last]
                    if node.feed is not None:
                        node.feed, node.feed_many = list(last), many
                last, many = t, _ends_in_group(sub)
            return first, last
        raise ConfigurationError(f"not a step of a workflow: {part!r} (use task.call(...), chain, group)")

    add(flow)
    for node in nodes:
        if node.feed == []:  # takes a result, but came first: nothing to take
            node.feed = None
    return nodes


def with_dependencies(spec: JobSpec, depends_on: Sequence[Job | str | Dependency]) -> list[Node]:
    """One job that waits for existing jobs (`depends_on`), as a workflow of one node."""
    deps: list[tuple[int | str, OnFailure]] = [
        (d.job_id, d.on_failure) for d in map(Dependency.of, depends_on)
    ]
    return [Node(spec, "fail", deps)]


@dataclass(frozen=True)
class Workflow:
    """What `enqueue_workflow` returns: the jobs of its steps in the order they were written, and its id
    (`RedisQ.workflow(id)` shows its graph; the id given to the enqueue, else a random one)."""

    id: str
    jobs: list[Job]
    last: list[Job]  # the steps that end it (a chain's last, a group's every step)

    async def result(self, timeout: float | None = None) -> Any:
        """The result of its last step (a list when it ends with a group of several)."""
        results = [await job.result(timeout) for job in self.last]
        return results[0] if len(self.last) == 1 else results

    def result_sync(self, timeout: float | None = None) -> Any:
        results = [job.result_sync(timeout) for job in self.last]
        return results[0] if len(self.last) == 1 else results

    async def cancel(self) -> int:
        """Cancel every step that has not started; returns how many were. Steps running go on."""
        return sum([await job.cancel() for job in self.jobs])

    def cancel_sync(self) -> int:
        return sum(job.cancel_sync() for job in self.jobs)

    async def abort(self) -> int:
        """`cancel`, and stop the steps running now (they end `aborted`); returns how many it reached."""
        return sum([bool(await job.abort()) for job in self.jobs])

    def abort_sync(self) -> int:
        return sum(bool(job.abort_sync()) for job in self.jobs)
