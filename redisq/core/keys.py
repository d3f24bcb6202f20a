"""Every Redis key that redisq uses comes from here.

All keys of one queue carry the queue's hash tag, so each script touches one Cluster slot. Keys shared by
all queues (the queue set, worker heartbeats) carry their own fixed tag. See docs/architecture.md.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ConfigurationError, InvalidJobId

# Member ids in a queue's sorted sets are bare uids; the public job id adds the queue in front, so that
# any id leads to its queue's slot without a lookup.
ID_SEPARATOR = ":"


# A queue name must be usable everywhere it goes: in keys (no braces, which would move the Cluster hash
# tag), in the CLI's comma-separated --queues, in admin URLs (no '/'; a leading '_' is the dashboard's, as
# in /_events), and in logs. Issue 11: an empty name used to fall back silently to the default queue.
QUEUE_NAME_RULE = "1 to 128 characters: letters, digits and . _ : - , starting with a letter or digit"
_QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def check_name(value: object, pattern: re.Pattern[str], what: str, rule: str) -> str:
    """Return `value` if it is a string that `pattern` matches whole, else raise ConfigurationError that
    names `what` and its `rule`: for the names that go into keys and admin URLs (queues, schedules,
    workflows)."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ConfigurationError(f"{what} {value!r} is not usable: {rule}")
    return value


def check_queue_name(name: object, what: str = "queue name") -> str:
    """Return `name` if it is a usable queue name, else raise ConfigurationError with the rule."""
    return check_name(name, _QUEUE_NAME, what, QUEUE_NAME_RULE)


def split_queue_names(value: str | Sequence[str], what: str = "queue name") -> list[str]:
    """Names from a comma-separated string (`--queues a,b`, REDISQ_QUEUES) or a sequence, each one usable
    or a ConfigurationError: a bad name is never dropped (an empty one used to be skipped, so
    `--queues "$UNSET"` ran a worker on every queue)."""
    names = [name.strip() for name in value.split(",")] if isinstance(value, str) else list(value)
    return [check_queue_name(name, what) for name in names]


_CAP = re.compile(r"(.+):(\d+)")


def split_worker_queues(value: str) -> tuple[list[str], dict[str, int]]:
    """`--queues emails:5,reports:2,default` of a worker: the names in order and, for the names followed by
    `:N`, the most jobs of that queue one worker runs at once (queue names may hold ':'; a final `:N` of
    digits is always read as this cap)."""
    names: list[str] = []
    caps: dict[str, int] = {}
    for item in value.split(","):
        match = _CAP.fullmatch(item.strip())
        name = check_queue_name(match.group(1) if match else item.strip())
        names.append(name)
        if match:
            if int(match.group(2)) < 1:
                raise ConfigurationError(f"the concurrency of queue {name!r} must be at least 1")
            caps[name] = int(match.group(2))
    return names, caps


def queue_prefix(prefix: str, queue: str) -> str:
    return f"{prefix}:{{{queue}}}:"


@dataclass(frozen=True)
class QueueKeys:
    """The keys of one queue. Built once per queue and cached by the client."""

    prefix: str
    queue: str

    @functools.cached_property
    def base(self) -> str:
        return queue_prefix(self.prefix, self.queue)

    def part(self, name: str) -> str:
        return self.base + name

    def job(self, uid: str) -> str:
        return self.base + "job:" + uid

    def abort_channel(self, worker_id: str) -> str:
        """Where `abort.lua` tells worker `worker_id` to stop a job of this queue that it runs: a shard
        channel in the queue's slot (SPUBLISH), so the message stays on the node that owns the queue."""
        return f"{self.base}abort:{worker_id}"

    def done_channel(self, uid: str) -> str:
        return self.base + "done:" + uid

    @functools.cached_property
    def levels(self) -> str:  # every enqueue names it
        """The ready index's priority levels that hold jobs (a zset, score -level; issue 15)."""
        return self.base + "levels"

    def ready(self, level: int | str) -> str:
        """The ready jobs of one priority level, in line order (a list)."""
        return f"{self.base}ready:{level}"

    @property
    def queued(self) -> str:
        """The ready index before issue 15 (a zset): read, and moved into the levels' lists, only for a
        queue that an older version wrote."""
        return self.base + "queued"

    @property
    def scheduled(self) -> str:
        return self.base + "scheduled"

    @property
    def active(self) -> str:
        return self.base + "active"

    @property
    def succeeded(self) -> str:
        return self.base + "succeeded"

    @property
    def dead(self) -> str:
        return self.base + "dead"

    @property
    def stats(self) -> str:
        return self.base + "stats"

    @property
    def waiting(self) -> str:
        """Jobs waiting for their dependencies (a zset by enqueue time; issue 16, workflow.lua)."""
        return self.base + "waiting"

    @property
    def outbox(self) -> str:
        """Final states of this queue's jobs on their way to the jobs that wait for them (a list)."""
        return self.base + "outbox"

    def deps(self, uid: str) -> str:
        """A waiting job's dependencies: job id -> `<policy>:<final state>` (a hash)."""
        return self.base + "deps:" + uid

    @property
    def wake(self) -> str:
        return self.base + "wake"

    @property
    def paused(self) -> str:
        return self.base + "paused"

    @property
    def tasks(self) -> str:  # the counters per task, fields `<counter>:<task>` (issue 14, common.lua)
        return self.base + "tasks"

    def metrics(self, resolution: str, period: int, task: str | None = None) -> str:
        """A metrics record (issue 17, metrics.lua): `resolution` "m" (an epoch minute) or "h" (an epoch
        hour), of the queue, or of one of its tasks."""
        key = f"{self.base}metrics:{resolution}:{period}"
        return key if task is None else f"{key}:{task}"

    @property
    def schedules(self) -> str:  # periodic jobs' ids by next run (issue 12)
        return self.base + "schedules"

    def schedule(self, schedule_id: str) -> str:
        return self.base + "schedule:" + schedule_id


@dataclass(frozen=True)
class GlobalKeys:
    """Keys that span queues. They are never touched from a queue's scripts (they live in another slot)."""

    prefix: str

    @property
    def queues(self) -> str:
        return f"{self.prefix}:{{meta}}:queues"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:{{workers}}:registry"

    def worker(self, worker_id: str) -> str:
        return f"{self.prefix}:{{workers}}:info:{worker_id}"

    def workflow(self, workflow_id: str) -> str:
        """A workflow's graph (JSON: its steps, their job ids and edges; issue 16), in a slot of its own."""
        return f"{self.prefix}:{{wf:{workflow_id}}}:graph"


def make_job_id(queue: str, uid: str) -> str:
    return f"{queue}{ID_SEPARATOR}{uid}"


def split_job_id(job_id: str) -> tuple[str, str]:
    """Return (queue, uid). The uid never holds the separator, so a queue name may."""
    queue, sep, uid = job_id.rpartition(ID_SEPARATOR)
    if not sep or not queue or not uid:
        raise InvalidJobId(f"not a redisq job id: {job_id!r} (expected '<queue>{ID_SEPARATOR}<uid>')")
    return queue, uid
