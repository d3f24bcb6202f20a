"""Periodic jobs (issue 12): what a schedule is, when it fires, and what a stored one looks like.

Pure computation, no I/O: every function takes the time (epoch ms) as an argument, so that tests drive
the clock. Cron expressions are read by `cronsim` and evaluated in the schedule's time zone (`zoneinfo`),
the way cron does it across DST: a time skipped by a spring-forward runs once, right after the gap; a
time that a fall-back repeats runs once, the first time (an hourly or finer field runs at each real
occurrence). `every=` schedules are fixed intervals of real time from an anchor (`start`, else the time
of their first declaration), unmoved by DST.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from . import codec
from .errors import ConfigurationError
from .keys import check_name, check_queue_name

CatchUp = Literal["skip", "last"]
Origin = Literal["code", "api"]
CATCH_UP: tuple[str, ...] = ("skip", "last")
# A tick claimed later than this after its time was missed (no worker ran): `catch_up="skip"` drops it.
# A worker claims a due tick within about a second; a minute covers a slow restart.
MISSED_AFTER_MS = 60_000
MAX_SCAN = 100_000  # ticks stepped over at most when looking for the latest one (a guard, see latest_due)

# Ids go into keys (`schedule:<id>`) and admin URLs (`/_schedules/<id>`): no braces, no '/', no spaces.
# Task names ("module.qualname", maybe with "<locals>") fit, as they are the default id.
SCHEDULE_ID_RULE = "1 to 200 characters: letters, digits and . _ : - < >, not starting with . : - < >"
_SCHEDULE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:<>-]{0,199}")


def check_schedule_id(value: object) -> str:
    return check_name(value, _SCHEDULE_ID, "schedule id", SCHEDULE_ID_RULE)


def check_cron(expr: object) -> str:
    if not isinstance(expr, str):
        raise ConfigurationError(f"a cron expression is a string like '0 2 * * *', got {expr!r}")
    try:
        CronSim(expr, datetime(2000, 1, 1, tzinfo=timezone.utc))
    except CronSimError as exc:
        raise ConfigurationError(f"bad cron expression {expr!r}: {exc}") from None
    return expr


def zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"a time zone is an IANA name like 'Europe/Paris', got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f"unknown time zone {name!r}: {exc}") from None


def every_ms(every: object) -> int:
    seconds = every.total_seconds() if isinstance(every, timedelta) else every
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        raise ConfigurationError(f"every must be a timedelta or a number of seconds, got {every!r}")
    if seconds < 1:
        raise ConfigurationError(f"every must be at least one second, got {every!r}")
    return round(seconds * 1000)


def epoch_ms(value: datetime | int | None, what: str) -> int | None:
    """A datetime (naive means UTC) or epoch ms."""
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(aware.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{what} must be a datetime or epoch milliseconds, got {value!r}")
    return value


def check_schedule_option(schedule: object, tz: object) -> None:
    """The `schedule=`/`tz=` of a task decorator, checked where it is written (the Flask extension
    registers its tasks on each app later)."""
    if schedule is None:
        raise ConfigurationError("tz= is the time zone of a schedule=; give both")
    if isinstance(schedule, str):
        Timing.build(cron=schedule, tz=tz if isinstance(tz, str) else None)
        if tz is not None:
            zone(tz)
    else:
        Timing.build(every=schedule)  # type: ignore[arg-type]  # checked there


@dataclass(frozen=True)
class Timing:
    """When a schedule fires: exactly one of `cron` and `every_ms`, bounded by `start_ms`/`end_ms`."""

    cron: str | None = None
    every_ms: int | None = None
    tz: str = "UTC"
    start_ms: int | None = None
    end_ms: int | None = None
    catch_up: CatchUp = "last"

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every_ms is None):
            raise ConfigurationError("a schedule takes exactly one of cron= and every=")
        if self.cron is not None:
            check_cron(self.cron)
        zone(self.tz)
        if self.catch_up not in CATCH_UP:
            raise ConfigurationError(f"catch_up must be 'skip' or 'last', got {self.catch_up!r}")
        if self.start_ms is not None and self.end_ms is not None and self.end_ms <= self.start_ms:
            raise ConfigurationError("a schedule's end must come after its start")

    @classmethod
    def build(
        cls,
        cron: str | None = None,
        every: timedelta | float | None = None,
        tz: str | None = None,
        start: datetime | int | None = None,
        end: datetime | int | None = None,
        catch_up: str = "last",
    ) -> Timing:
        """From the user's arguments; every mistake is a ConfigurationError."""
        if cron is not None and every is not None:
            raise ConfigurationError("a schedule takes exactly one of cron= and every=, not both")
        return cls(
            cron=check_cron(cron) if cron is not None else None,
            every_ms=every_ms(every) if every is not None else None,
            tz=tz or "UTC",
            start_ms=epoch_ms(start, "start"),
            end_ms=epoch_ms(end, "end"),
            catch_up=catch_up,  # type: ignore[arg-type]  # checked in __post_init__
        )

    def _in_bounds(self, tick: int | None) -> int | None:
        if tick is None or (self.end_ms is not None and tick > self.end_ms):
            return None
        return tick

    def _cron_after(self, after_ms: int) -> int:
        assert self.cron is not None
        start = datetime.fromtimestamp(after_ms / 1000, zone(self.tz))
        return int(next(CronSim(self.cron, start)).timestamp() * 1000)

    def next_after(self, after_ms: int, anchor_ms: int) -> int | None:
        """The first tick strictly after `after_ms` (and not before the start), None past the end."""
        if self.start_ms is not None and after_ms < self.start_ms:
            after_ms = self.start_ms - 1
        if self.every_ms is not None:
            anchor = self.start_ms if self.start_ms is not None else anchor_ms
            if after_ms < anchor:
                return self._in_bounds(anchor)
            return self._in_bounds(anchor + ((after_ms - anchor) // self.every_ms + 1) * self.every_ms)
        return self._in_bounds(self._cron_after(after_ms))

    def latest_due(self, first_ms: int, now_ms: int, anchor_ms: int) -> int:
        """The latest tick at or before `now_ms`, given that `first_ms` (<= now) is one."""
        if self.every_ms is not None:
            anchor = self.start_ms if self.start_ms is not None else anchor_ms
            if first_ms < anchor:
                return first_ms
            return anchor + (now_ms - anchor) // self.every_ms * self.every_ms
        latest = first_ms
        if self.cron is not None:  # step forward; a gap of a year of minutes is the guard's bound
            for _ in range(MAX_SCAN):
                following = self._cron_after(latest)
                if following > now_ms:
                    break
                latest = following
        if self.end_ms is not None and latest > self.end_ms:
            return first_ms
        return latest

    def plan(self, due_ms: int, now_ms: int, anchor_ms: int) -> tuple[int | None, int | None]:
        """For a schedule whose next run `due_ms` has come: (the tick to run now, or None to run
        nothing; the next run after now, or None when the schedule has ended).

        Missed ticks never run as a burst: `catch_up="last"` runs the latest of them once; "skip" runs
        a tick only if it is not late by more than MISSED_AFTER_MS.
        """
        latest = self.latest_due(due_ms, now_ms, anchor_ms)
        run = latest if self.catch_up == "last" or now_ms - latest <= MISSED_AFTER_MS else None
        return run, self.next_after(now_ms, anchor_ms)

    def describe(self) -> dict[str, Any]:
        return {
            "cron": self.cron,
            "every_s": None if self.every_ms is None else self.every_ms / 1000,
            "tz": self.tz,
            "start": self.start_ms,
            "end": self.end_ms,
            "catch_up": self.catch_up,
        }


@dataclass(frozen=True)
class JobTemplate:
    """The job a tick writes, prepared once (at upsert) the way `enqueue` prepares one: enqueue.lua's
    values for it, less the uid and the per-tick unique key."""

    payload: bytes
    priority: int
    max_attempts: int
    result_ttl_s: int | None = None
    ttl_ms: int | None = None
    sig: str | None = None
    limits: str = ""  # the record's `limits` field (limits.py): a tick's job counts against them too

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "payload": self.payload,
            "priority": self.priority,
            "max_attempts": self.max_attempts,
        }
        if self.result_ttl_s:
            out["result_ttl"] = self.result_ttl_s
        if self.ttl_ms:
            out["ttl_ms"] = self.ttl_ms
        if self.sig:
            out["sig"] = self.sig
        if self.limits:
            out["limits"] = self.limits
        return out


@dataclass(frozen=True)
class Schedule:
    """A periodic job: a task, its arguments, its queue and its timing."""

    id: str
    task: str
    queue: str
    timing: Timing
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    origin: Origin = "code"

    def __post_init__(self) -> None:
        check_schedule_id(self.id)
        check_queue_name(self.queue, "queue")

    def definition(self, template: JobTemplate) -> dict[str, Any]:
        """The fields stored for it, `version` included: a hash of everything that decides its jobs and
        their times. An upsert with the same version keeps the stored next run (a deploy or a restart
        never moves it); a different version recomputes it."""
        t = self.timing
        stored: dict[str, Any] = {
            "task": self.task,
            "args": codec.dumps(list(self.args), "schedule arguments"),
            "kwargs": codec.dumps(self.kwargs, "schedule arguments"),
            "tz": t.tz,
            "catch_up": t.catch_up,
            **template.fields(),
        }
        if t.cron is not None:
            stored["cron"] = t.cron
        if t.every_ms is not None:
            stored["every_ms"] = t.every_ms
        if t.start_ms is not None:
            stored["start"] = t.start_ms
        if t.end_ms is not None:
            stored["end"] = t.end_ms
        digest = hashlib.sha256()
        for name in sorted(stored):
            value = stored[name]
            digest.update(name.encode() + b"=" + (value if isinstance(value, bytes) else str(value).encode()))
            digest.update(b"\0")
        stored["version"] = digest.hexdigest()[:32]
        return stored


def _text(fields: dict[bytes, bytes], name: str) -> str | None:
    raw = fields.get(name.encode())
    return raw.decode(errors="replace") if raw is not None else None


def _num(fields: dict[bytes, bytes], name: str) -> int | None:
    raw = fields.get(name.encode())
    try:
        return None if raw is None else int(raw)
    except ValueError:
        return None


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule as Redis holds it, with its state (next and last run, paused), read leniently."""

    id: str
    queue: str
    task: str
    timing: Timing | None  # None: the stored definition is damaged (it is listed, never run)
    args: list[Any]
    kwargs: dict[str, Any]
    origin: str
    version: str
    anchor_ms: int
    next_ms: int | None
    paused: bool
    last_run_ms: int | None
    last_job_uid: str | None

    @classmethod
    def from_hash(cls, schedule_id: str, queue: str, fields: dict[bytes, bytes]) -> ScheduleInfo:
        try:
            timing: Timing | None = Timing(
                cron=_text(fields, "cron"),
                every_ms=_num(fields, "every_ms"),
                tz=_text(fields, "tz") or "UTC",
                start_ms=_num(fields, "start"),
                end_ms=_num(fields, "end"),
                catch_up=(_text(fields, "catch_up") or "last"),  # type: ignore[arg-type]
            )
        except ConfigurationError:
            timing = None
        args, kwargs = _json(fields.get(b"args")), _json(fields.get(b"kwargs"))
        return cls(
            id=schedule_id,
            queue=queue,
            task=_text(fields, "task") or "",
            timing=timing,
            args=args if isinstance(args, list) else [],
            kwargs=kwargs if isinstance(kwargs, dict) else {},
            origin=_text(fields, "origin") or "api",
            version=_text(fields, "version") or "",
            anchor_ms=_num(fields, "anchor") or 0,
            next_ms=_num(fields, "next"),
            paused=b"paused" in fields,
            last_run_ms=_num(fields, "last_tick"),
            last_job_uid=_text(fields, "last_job"),
        )


def _json(raw: bytes | None) -> Any:
    try:
        return None if raw is None else codec.loads(raw)
    except ValueError:
        return None
