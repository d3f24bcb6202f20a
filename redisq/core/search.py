"""Finding the jobs of one state that match a filter, at a bounded cost (issue 17), sans-I/O.

A search never lists keys (no KEYS, no SCAN): it walks the one index of the state asked for (the queued
jobs' lists and parked sets in line order, else the state's sorted set), from a position, and looks at
no more than `max_examined` of its entries per call; the caller continues from the position it is given
back. The records are read where they are: `search.lua` takes SCAN_BATCH entries per call (one call holds
Redis for about 1.5 ms), reads only the fields the filter needs and answers only the candidates,
so what travels is the matches, not the records (measured in docs/architecture.md). Python has the last
word where the envelope must be decoded: the arguments' text (`args_contain`) must be in the arguments,
not in the task's name or the meta, and a request id in the meta, not in a keyword argument.

Positions are ranks in the index's ascending order (oldest first). A page reads up from a rank, or down
from one (newest first); `since`/`until` on a sorted set ordered by that very time become a range of
ranks (ZCOUNT), so the entries outside it are never looked at. Every key is the queue's: on a Cluster
each call goes to the queue's node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from . import codec, ready
from .job import JobInfo, JobState
from .keys import QueueKeys, make_job_id
from .operation import Command, Op, ScriptCall
from .ops import STATE_INDEX

SCAN_BATCH = 250  # entries per script call: ~1.5 ms of Redis (measured: docs/architecture.md)
MAX_EXAMINED = 5_000  # entries one search looks at, at most, unless its caller says otherwise
# The moment that since/until bound, for the two indexes not ordered by it: the ready lists (line order)
# and `active` (lease deadline). The others are sorted by the time the listing shows: scheduled by due
# time, succeeded and dead by their end, waiting by enqueue time.
RECORD_MOMENT = {JobState.QUEUED: "enqueued_at", JobState.ACTIVE: "started_at"}


@dataclass(frozen=True)
class JobFilter:
    """What a search keeps: a job matches when it matches every field given (None: any)."""

    task: str | None = None  # the task's name, exactly
    args_contain: str | None = None  # text found in the JSON of its args or of its kwargs, as stored
    request_id: str | None = None  # the web request that enqueued it
    error_type: str | None = None  # the type of its last error, exactly ("ValueError")
    since_ms: int | None = None  # its moment (see RECORD_MOMENT) at or after this
    until_ms: int | None = None  # and before this

    def __post_init__(self) -> None:
        for name in ("task", "args_contain", "request_id", "error_type"):
            if getattr(self, name) == "":
                raise ValueError(f"JobFilter.{name} is empty: give None to match any")

    @property
    def is_empty(self) -> bool:
        return self == _NO_FILTER

    @property
    def needs_payload(self) -> bool:
        """Whether Python must see a candidate's payload to decide (see `confirms`)."""
        return self.args_contain is not None or self.request_id is not None

    def confirms(self, payload: bytes) -> bool:
        """The exact test of what `search.lua` only looked for in the whole payload."""
        try:
            envelope = codec.decode_envelope(payload)
        except codec.MalformedPayload:
            return False
        if self.request_id is not None and envelope["meta"].get("request_id") != self.request_id:
            return False
        if self.args_contain is None:
            return True
        # The text of each as stored: orjson writes the same bytes again for what it read.
        text = self.args_contain.encode()
        return text in orjson.dumps(envelope["args"]) or text in orjson.dumps(envelope["kwargs"])


_NO_FILTER = JobFilter()


@dataclass(frozen=True)
class Found:
    """What one search found: the uids in the order walked, how many entries it looked at, the index's
    size, and the rank to go on from (None: the index, or its time range, was walked to its end)."""

    uids: list[str]
    examined: int
    total: int
    next_rank: int | None


@dataclass(frozen=True)
class SearchPage:
    """A page of a filtered listing. `next_offset` continues it (as `offset`, in the same order)."""

    jobs: list[JobInfo]
    searched: int
    total: int
    next_offset: int | None


@dataclass(frozen=True)
class _Index:
    parts: list[tuple[ready.Part, int]]  # in ascending order, each with its size
    low: int  # the ranks to walk: [low, high) (a time range on a sorted set narrows them)
    high: int
    total: int


def _index(k: QueueKeys, state: JobState, job_filter: JobFilter) -> Op[_Index]:
    if state is JobState.QUEUED:
        parts = yield from ready.queued_parts(k)
        total = sum(size for _, size in parts)
        return _Index(parts, 0, total, total)
    part = ready.Part(k.part(STATE_INDEX[state]), False)
    since, until = job_filter.since_ms, job_filter.until_ms
    if state in RECORD_MOMENT or (since is None and until is None):
        total = int((yield part.size()))
        return _Index([(part, total)], 0, total, total)
    # Scores are ms: "(x" excludes x, so these count the entries before `since` and before `until`.
    total, before_since, before_until = yield [
        part.size(),
        Command(("ZCOUNT", part.key, "-inf", f"({since}" if since is not None else "-inf")),
        Command(("ZCOUNT", part.key, "-inf", f"({until}" if until is not None else "+inf")),
    ]
    return _Index([(part, int(total))], int(before_since), int(before_until), int(total))


def _call(
    k: QueueKeys,
    state: JobState,
    job_filter: JobFilter,
    index: _Index,
    window: tuple[int, int],
    descending: bool,
    want: int,
) -> tuple[ScriptCall, int] | None:
    """The script call that looks at the ranks of `window` ([low, high)) in the walk's direction, for at
    most `want` candidates, and how many ranks that is; None when none of them is left to walk."""
    low, high = max(window[0], index.low), min(window[1], index.high)
    if low >= high:
        return None
    segments: list[tuple[str, list[int]]] = []
    position = 0
    for part, size in index.parts:
        start, stop = max(low - position, 0), min(high - position, size) - 1
        if start <= stop:
            segments.append((part.key, [start, stop, int(descending), int(part.is_list)]))
        position += size
    if descending:  # the last part first, each read from its end
        segments.reverse()
    f = job_filter
    bounded = f.since_ms is not None or f.until_ms is not None
    values: list[object] = [
        k.base,
        want,
        RECORD_MOMENT.get(state, "") if bounded else "",
        "" if f.since_ms is None else f.since_ms,
        "" if f.until_ms is None else f.until_ms,
        f.task or "",
        b'"type":' + orjson.dumps(f.error_type) if f.error_type is not None else "",
        (f.args_contain or "").encode(),
        b'"request_id":' + orjson.dumps(f.request_id) if f.request_id is not None else "",
        int(f.needs_payload),
    ]
    for _, segment in segments:
        values += segment
    return ScriptCall("search", [key for key, _ in segments], values), high - low


def _walk(
    k: QueueKeys,
    state: JobState,
    job_filter: JobFilter,
    index: _Index,
    position: int,
    descending: bool,
    want: int,
    max_examined: int,
) -> Op[Found]:
    # Into the ranks to walk: a time range on a sorted set starts and ends inside the index.
    position = min(position, index.high) if descending else max(position, index.low)
    found: list[str] = []
    examined = 0
    while len(found) < want and examined < max_examined:
        n = min(SCAN_BATCH, max_examined - examined)
        window = (position - n, position) if descending else (position, position + n)
        planned = _call(k, state, job_filter, index, window, descending, want - len(found))
        if planned is None:
            return Found(found, examined, index.total, None)
        call, span = planned
        reply = yield call
        looked, stopped = int(reply[0]), int(reply[1])
        for i in range(2, len(reply), 2):
            if not job_filter.needs_payload or job_filter.confirms(reply[i + 1]):
                found.append(reply[i].decode())
        examined += looked
        # A batch that stopped at its last candidate goes on after it; one that did not covered its whole
        # span, though it may have looked at fewer entries (the index shrank since its size was read).
        step = looked if stopped else span
        position = position - step if descending else position + step
    done = position <= index.low if descending else position >= index.high
    return Found(found, examined, index.total, None if done else position)


def find(
    k: QueueKeys,
    state: JobState,
    job_filter: JobFilter,
    *,
    below: int | None,
    want: int,
    max_examined: int = MAX_EXAMINED,
) -> Op[Found]:
    """Up to `want` matching uids, newest first from the rank `below` (exclusive; None: the top), looking
    at `max_examined` entries at most. Walking down is what a bulk action needs: the entries it removes
    are above the rank it goes on from, and new jobs join at the top, so neither moves the ranks still to
    walk (jobs leaving from the bottom, as workers take them, only make it look at some twice)."""
    index = yield from _index(k, state, job_filter)
    position = index.high if below is None else below
    return (yield from _walk(k, state, job_filter, index, position, True, want, max_examined))


def page(
    k: QueueKeys,
    state: JobState,
    job_filter: JobFilter,
    offset: int,
    limit: int,
    newest_first: bool,
    max_examined: int = MAX_EXAMINED,
) -> Op[SearchPage]:
    """A filtered page: the first `limit` matches from position `offset` of the page's order (the
    positions of an unfiltered page: the newest first counts from the top), with their records."""
    index = yield from _index(k, state, job_filter)
    start = index.total - offset if newest_first else offset
    found = yield from _walk(k, state, job_filter, index, start, newest_first, limit, max_examined)
    next_offset = None
    if found.next_rank is not None:
        next_offset = found.total - found.next_rank if newest_first else found.next_rank
    return SearchPage((yield from _records(k, state, found.uids)), found.examined, found.total, next_offset)


def _records(k: QueueKeys, state: JobState, uids: Sequence[str]) -> Op[list[JobInfo]]:
    """The matches' records, in one round trip; those deleted or expired since are left out."""
    if not uids:
        return []
    records = yield [Command(("HGETALL", k.job(uid)), tolerant=True) for uid in uids]
    return [
        JobInfo.from_hash(make_job_id(k.queue, uid), k.queue, fields, state)
        for uid, fields in zip(uids, records, strict=True)
        if fields and not isinstance(fields, Exception)
    ]
