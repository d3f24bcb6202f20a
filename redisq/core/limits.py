"""Rate and concurrency limits: what a limit is, how a job carries the limits that apply to it, and the
exception a task raises when a partner tells it to slow down.

The limits are enforced by the fetch script (see docs/architecture.md, "Limits"): a job whose limit is
full is not leased and costs no attempt. A queue's own limit comes from the worker's configuration; the
limits of a task are written into each of its jobs' records when they are enqueued, so the fetch script
can judge a job without knowing its task.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError, InvalidArguments, RedisQError

_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([a-z]+)\s*")
# A limit's name is part of Redis keys and of the field that carries it; the separators below never occur.
_NAME = re.compile(r"[^\x00-\x1f]{1,200}")
FIELD_SEP, ITEM_SEP = "\x1f", "\x1e"


@dataclass(frozen=True)
class RateLimit:
    """At most `count` jobs start per `per` seconds, spaced evenly (one every per/count seconds); `burst`
    lets up to that many start at once after a quiet spell (then at most count + burst - 1 may start
    within one period). Kept as one timestamp in Redis (the generic cell rate algorithm)."""

    count: int
    per: float = 1.0
    burst: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or self.count < 1:
            raise ConfigurationError(f"a rate limit's count must be a positive integer, got {self.count!r}")
        if not (self.per > 0 and math.isfinite(self.per)):
            raise ConfigurationError(f"a rate limit's period must be positive seconds, got {self.per!r}")
        if not isinstance(self.burst, int) or self.burst < 1:
            raise ConfigurationError(f"a rate limit's burst must be a positive integer, got {self.burst!r}")

    @classmethod
    def parse(cls, value: RateLimit | str) -> RateLimit:
        """`RateLimit` or a string like "100/m", "50/s", "10/30s", "1000/h", "5/d"."""
        if isinstance(value, RateLimit):
            return value
        match = _RATE.fullmatch(value) if isinstance(value, str) else None
        unit = _UNITS.get(match.group(3)) if match else None
        if match is None or unit is None:
            raise ConfigurationError(
                f"rate limit {value!r} is not understood: write COUNT/PERIOD, e.g. '100/m', '50/s', "
                "'10/30s', '1000/h', '5/d' (or RateLimit(count, per=seconds))"
            )
        return cls(int(match.group(1)), float(match.group(2) or 1) * unit)

    @property
    def interval_ms(self) -> float:
        return self.per * 1000 / self.count


@dataclass(frozen=True)
class Limit:
    """A named limit that jobs of one or more tasks share: at most `rate_limit` starts and at most
    `max_concurrency` running at once, across every worker. With `key`, each value of `key(*args,
    **kwargs)` (a customer, a partner's host) has its own allowance, so one cannot starve the others.

    A limit counts per queue: jobs of different queues never share its allowance unless `shared=True`,
    whose keys live outside the queues' hash slots (on Redis Cluster, such a limit needs every queue that
    uses it in one slot; see the README)."""

    name: str
    rate_limit: RateLimit | str | None = None
    max_concurrency: int | None = None
    key: Callable[..., object] | None = None
    shared: bool = False

    def __post_init__(self) -> None:
        check_limit_name(self.name)
        if self.rate_limit is not None:
            object.__setattr__(self, "rate_limit", RateLimit.parse(self.rate_limit))
        if self.max_concurrency is not None and (
            not isinstance(self.max_concurrency, int) or self.max_concurrency < 1
        ):
            raise ConfigurationError(
                f"max_concurrency must be a positive integer, got {self.max_concurrency!r}"
            )
        if self.rate_limit is None and self.max_concurrency is None:
            raise ConfigurationError(
                f"limit {self.name!r} limits nothing: give rate_limit or max_concurrency"
            )

    @property
    def rate(self) -> RateLimit | None:
        assert not isinstance(self.rate_limit, str)  # parsed in __post_init__
        return self.rate_limit

    def spec(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
        """This limit as one job carries it: scope, name (with the key's value), and the numbers."""
        name = self.name
        if self.key is not None:
            try:
                value = self.key(*args, **kwargs)
            except Exception as exc:
                raise InvalidArguments(
                    f"the key of limit {self.name!r} failed on these arguments: {exc!r}"
                ) from exc
            name = f"{name}:{value}"
            if not _NAME.fullmatch(name):
                raise InvalidArguments(
                    f"limit key {value!r} of limit {self.name!r} is not usable: 1 to 200 characters, no "
                    "control characters"
                )
        rate = self.rate
        numbers = (0, 0, 1) if rate is None else (rate.count, round(rate.per * 1000), rate.burst)
        return FIELD_SEP.join(
            ("g" if self.shared else "q", name, *map(str, numbers), str(self.max_concurrency or 0))
        )


def parked_key_of(base: str, spec: bytes) -> str:
    """The key of the jobs that a limit (a member of a queue's `limited`, see limits.lua) set aside."""
    scope, name = spec.decode().split(FIELD_SEP)[:2]
    return f"{base}parked:{scope}:{name}"


def check_limit_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"limit name {name!r} is not usable: 1 to 200 characters, no control characters"
        )
    return name


def task_limits(
    task_name: str,
    rate_limit: RateLimit | str | None,
    max_concurrency: int | None,
    limit_key: Callable[..., object] | None,
    limits: Sequence[Limit],
) -> tuple[Limit, ...]:
    """The limits a task's jobs carry: its own (named after the task) and the shared ones it names."""
    own: tuple[Limit, ...] = ()
    if rate_limit is not None or max_concurrency is not None:
        own = (Limit(f"task:{task_name}", rate_limit, max_concurrency, limit_key),)
    elif limit_key is not None:
        raise ConfigurationError("limit_key needs rate_limit or max_concurrency on the same task")
    for limit in limits:
        if not isinstance(limit, Limit):
            raise ConfigurationError(f"limits= takes Limit objects, got {limit!r}")
    return own + tuple(limits)


def job_limits(limits: Sequence[Limit], args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """The record field of a job's limits ("" when none: the field is then not written)."""
    if not limits:
        return ""
    return ITEM_SEP.join(limit.spec(args, kwargs) for limit in limits)


def refuse_shared_on_cluster(field: str) -> None:
    """A shared limit counts the jobs of several queues in one key, and a Redis Cluster keeps each queue
    in a slot of its own, where a queue's script cannot reach that key: refused at enqueue, before any
    job would wait on a limit its worker cannot read."""
    for item in field.split(ITEM_SEP):
        if item.startswith("g" + FIELD_SEP):
            name = item.split(FIELD_SEP)[1]
            raise ConfigurationError(
                f"Limit {name!r} is shared across queues, which a Redis Cluster cannot do in one atomic step "
                "(each queue lives in its own slot): on a Cluster, use a limit per queue (shared=False)"
            )


@dataclass(frozen=True)
class QueueLimit:
    """A limit on a whole queue, enforced by the workers that serve it (`RedisQ.limit_queue`)."""

    rate_limit: RateLimit | None = None
    max_concurrency: int | None = None

    def fetch_args(self) -> tuple[float, float, int]:
        """(interval_ms, tolerance_ms, max running) for fetch.lua; zeros: no such limit."""
        rate = self.rate_limit
        if rate is None:
            return 0, 0, self.max_concurrency or 0
        return rate.interval_ms, (rate.burst - 1) * rate.interval_ms, self.max_concurrency or 0


class RateLimited(RedisQError):
    """Raise from a task when a partner refuses for now (an HTTP 429): the job goes back without spending
    an attempt, and the limits it carries (else its queue's) start nothing before `retry_after_s`."""

    def __init__(self, retry_after_s: float = 1.0) -> None:
        if not (retry_after_s >= 0 and math.isfinite(retry_after_s)):
            raise ValueError(f"retry_after_s must be a finite number of seconds >= 0, got {retry_after_s!r}")
        super().__init__(f"rate limited: retry after {retry_after_s:g}s")
        self.retry_after_s = retry_after_s
