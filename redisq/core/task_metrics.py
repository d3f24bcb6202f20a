"""Metrics over time, per queue and per task (issue 17): reading the records that finish.lua writes.

A record (metrics.lua holds the same layout) is up to 38 unsigned 32-bit big-endian counters: attempts
that succeeded, attempts that failed, then for each fixed millisecond bucket (`BOUNDS_MS`) the run times
and the queue waits of those attempts that fell in it (interleaved: a record is only as long as its
highest counter written, so a record of fast jobs is short). One per queue and per task, per minute
(kept 72 h) and per hour (kept 30 days). Records add up, so any window's percentiles come from the sum of
its records.

What a range reads (one pipelined round trip; one queue's records share its Cluster slot):

    range  points of a queue or task   tasks table      every queue (the overview)
    1h     60 x 1 min                  minute records   minute records
    24h    96 x 15 min (minute rec.)   hour records     24 x 1 h
    72h    288 x 15 min (minute rec.)  hour records     72 x 1 h
    30d    120 x 6 h (hour records)    hour records     120 x 6 h

A window over hour records covers whole clock hours: "24h" is the current hour and the 23 before it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from .keys import QueueKeys
from .operation import Command, Op

# The upper bounds (ms, inclusive) of the buckets; one more bucket holds everything slower.
BOUNDS_MS: tuple[int, ...] = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
BOUNDS_MS += (300_000, 1_800_000)
BUCKETS = len(BOUNDS_MS) + 1
COUNTERS = 2 + 2 * BUCKETS
RECORD_BYTES = COUNTERS * 4
_RECORD = struct.Struct(f">{COUNTERS}I")

Range = Literal["1h", "24h", "72h", "30d"]
RANGES: tuple[str, ...] = get_args(Range)
Resolution = Literal["m", "h"]


@dataclass(frozen=True)
class _Plan:
    span_s: int
    step_s: int  # of the points of one queue or task
    series_resolution: Resolution
    table_resolution: Resolution  # the per-task totals, and the overview's points


_PLANS: dict[str, _Plan] = {
    "1h": _Plan(3600, 60, "m", "m"),
    "24h": _Plan(86400, 900, "m", "h"),
    "72h": _Plan(3 * 86400, 900, "m", "h"),
    "30d": _Plan(30 * 86400, 6 * 3600, "h", "h"),
}
_SECONDS: dict[str, int] = {"m": 60, "h": 3600}


def attempt_counts(raw: bytes | None) -> tuple[int, int]:
    """(succeeded, failed) from a record's first 8 bytes (missing or short: zeros)."""
    head = (raw or b"")[:8].ljust(8, b"\0")
    ok, failed = struct.unpack(">II", head)
    return ok, failed


@dataclass(frozen=True)
class Counts:
    """Attempts that ended in a window, and the distributions of their run time and queue wait."""

    succeeded: int = 0
    failed: int = 0
    run: tuple[int, ...] = (0,) * BUCKETS
    wait: tuple[int, ...] = (0,) * BUCKETS

    @classmethod
    def decode(cls, raw: bytes | None) -> Counts:
        """A record as stored; a missing one is zeros, a longer one (not written by redisq) is cut."""
        if not raw:
            return cls()
        values = _RECORD.unpack(raw[:RECORD_BYTES].ljust(RECORD_BYTES, b"\0"))
        return cls(values[0], values[1], values[2::2], values[3::2])

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.succeeded + other.succeeded,
            self.failed + other.failed,
            tuple(a + b for a, b in zip(self.run, other.run, strict=True)),
            tuple(a + b for a, b in zip(self.wait, other.wait, strict=True)),
        )

    @property
    def attempts(self) -> int:
        return self.succeeded + self.failed

    def run_ms(self, quantile: float) -> float | None:
        return percentile(self.run, quantile)

    def wait_ms(self, quantile: float) -> float | None:
        return percentile(self.wait, quantile)


def total(counts: Sequence[Counts]) -> Counts:
    out = Counts()
    for c in counts:
        out = out + c
    return out


def percentile(buckets: Sequence[int], quantile: float) -> float | None:
    """The `quantile` (0..1) of a bucketed distribution, interpolated linearly inside its bucket; None
    when it is empty. A value in the last bucket (over 30 min) is reported as its lower bound."""
    count = sum(buckets)
    if count == 0:
        return None
    rank = quantile * count
    seen = 0
    for i, n in enumerate(buckets):
        if n and seen + n >= rank:
            if i == len(BOUNDS_MS):
                return float(BOUNDS_MS[-1])
            low = BOUNDS_MS[i - 1] if i else 0
            return low + (BOUNDS_MS[i] - low) * max(rank - seen, 0) / n
        seen += n
    return float(BOUNDS_MS[-1])


@dataclass(frozen=True)
class Point:
    at_ms: int  # the start of the point's window
    counts: Counts


@dataclass(frozen=True)
class TaskTotals:
    task: str
    counts: Counts


@dataclass(frozen=True)
class QueueMetrics:
    """One queue's (or one of its tasks') points over a range, and every task's totals over it."""

    queue: str
    task: str | None
    range: str
    step_s: int
    points: list[Point]
    tasks: list[TaskTotals]


@dataclass(frozen=True)
class SystemMetrics:
    """Every queue's points summed, and each queue's totals, over a range."""

    range: str
    step_s: int
    points: list[Point]
    queues: list[TaskTotals]  # `task` holds the queue's name


def plan(range_: str) -> _Plan:
    try:
        return _PLANS[range_]
    except KeyError:
        raise ValueError(f"range must be one of {', '.join(RANGES)}, not {range_!r}") from None


def _periods(now_ms: int, span_s: int, resolution: Resolution) -> range:
    size = _SECONDS[resolution]
    current = now_ms // 1000 // size
    return range(current - span_s // size + 1, current + 1)


def _fold(periods: range, resolution: Resolution, records: Sequence[Counts], step_s: int) -> list[Point]:
    """Records into points of `step_s`, aligned on multiples of it (the first may be partial)."""
    size = _SECONDS[resolution]
    points: list[Point] = []
    for period, counts in zip(periods, records, strict=True):
        at_ms = (period * size // step_s) * step_s * 1000
        if points and points[-1].at_ms == at_ms:
            points[-1] = Point(at_ms, points[-1].counts + counts)
        else:
            points.append(Point(at_ms, counts))
    return points


def _read(keys: Sequence[str]) -> Op[list[Counts]]:
    if not keys:
        return []
    # Tolerant: a key of another type under the prefix (damage) reads as an empty record, not a failed read.
    replies = yield [Command(("GET", key), tolerant=True) for key in keys]
    return [Counts.decode(None if isinstance(raw, Exception) else raw) for raw in replies]


def _task_names(k: QueueKeys) -> Op[list[str]]:
    """The tasks the queue has counted (fields `<counter>:<task>` of its `tasks` hash)."""
    fields = yield Command(("HKEYS", k.tasks))
    return sorted({f.decode().partition(":")[2] for f in fields} - {""})


def queue_metrics(k: QueueKeys, now_ms: int, range_: str, task: str | None = None) -> Op[QueueMetrics]:
    p = plan(range_)
    names = yield from _task_names(k)
    series_periods = _periods(now_ms, p.span_s, p.series_resolution)
    table_periods = _periods(now_ms, p.span_s, p.table_resolution)
    keys = [k.metrics(p.series_resolution, period, task) for period in series_periods]
    for name in names:
        keys += [k.metrics(p.table_resolution, period, name) for period in table_periods]
    records = yield from _read(keys)
    series, rest = records[: len(series_periods)], records[len(series_periods) :]
    width = len(table_periods)
    tasks = [TaskTotals(name, total(rest[i * width : (i + 1) * width])) for i, name in enumerate(names)]
    return QueueMetrics(
        queue=k.queue,
        task=task,
        range=range_,
        step_s=p.step_s,
        points=_fold(series_periods, p.series_resolution, series, p.step_s),
        tasks=[t for t in tasks if t.counts.attempts and (task is None or t.task == task)],
    )


def system_metrics(keys: Sequence[QueueKeys], now_ms: int, range_: str) -> Op[SystemMetrics]:
    p = plan(range_)
    resolution = p.table_resolution
    step_s = _SECONDS[resolution] if range_ in ("24h", "72h") else p.step_s
    periods = _periods(now_ms, p.span_s, resolution)
    records = yield from _read([k.metrics(resolution, period) for k in keys for period in periods])
    width = len(periods)
    per_queue = [records[i * width : (i + 1) * width] for i in range(len(keys))]
    summed = [total(column) for column in zip(*per_queue, strict=True)] if per_queue else []
    if not summed:
        summed = [Counts()] * width
    return SystemMetrics(
        range=range_,
        step_s=step_s,
        points=_fold(periods, resolution, summed, step_s),
        queues=[TaskTotals(k.queue, total(rows)) for k, rows in zip(keys, per_queue, strict=True)],
    )
