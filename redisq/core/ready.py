"""A queue's queued jobs as Python reads them: its ready index (issue 15), one list per priority level
(`ready:<level>`, the non-empty levels in the zset `levels`), plus the jobs that their limits set aside.

The scripts keep the index (common.lua); listings and purges here only need its line order: the legacy
`queued` zset of a queue written by an older version first (until a fetch or a sweep has moved it into
the lists: its jobs are the oldest), then the levels from the highest, then the parked jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

from .keys import QueueKeys
from .limits import parked_key_of
from .operation import Command, Op, Single

PARKED_SPECS = 100  # limits (with parked jobs) whose jobs a listing shows, as the stats count them


@dataclass(frozen=True)
class Part:
    key: str
    is_list: bool  # a level's list, else a zset (legacy, parked)

    def size(self) -> Command:
        return Command(("LLEN" if self.is_list else "ZCARD", self.key))

    def range(self, start: int, stop: int) -> Command:
        return Command(("LRANGE" if self.is_list else "ZRANGE", self.key, start, stop))


def _parts(k: QueueKeys, legacy: int, levels: list[bytes], specs: list[bytes]) -> list[Part]:
    parts = [Part(k.queued, False)] if legacy else []
    parts += [Part(k.ready(level.decode()), True) for level in levels]
    return parts + [Part(parked_key_of(k.base, spec), False) for spec in specs]


def _index_parts(k: QueueKeys) -> Op[list[Part]]:
    """The parts of the queued index in line order, in one round trip."""
    legacy, levels, specs = yield [
        Command(("ZCARD", k.queued)),
        Command(("ZRANGE", k.levels, 0, -1)),
        Command(("ZRANGE", k.part("limited"), 0, PARKED_SPECS - 1)),
    ]
    return _parts(k, int(legacy), levels, specs)


def queued_page(k: QueueKeys, offset: int, limit: int, newest_first: bool) -> Op[list[bytes]]:
    """The uids of one page of the queued jobs, in line order (or its reverse), as one sequence."""
    parts = yield from _index_parts(k)
    if not parts:
        return []
    if len(parts) == 1:  # the usual queue: one level, nothing parked (negative ranks count from the end)
        if newest_first:
            return list((yield parts[0].range(-offset - limit, -offset - 1)))[::-1]
        return list((yield parts[0].range(offset, offset + limit - 1)))
    sizes = [int(n) for n in (yield [part.size() for part in parts])]
    total = sum(sizes)
    start = offset if not newest_first else max(total - offset - limit, 0)
    stop = offset + limit - 1 if not newest_first else total - offset - 1
    reads: list[Single] = []
    position = 0
    for part, size in zip(parts, sizes, strict=True):
        low, high = max(start - position, 0), min(stop - position, size - 1)
        if low <= high:
            reads.append(part.range(low, high))
        position += size
    if not reads:
        return []
    uids = [uid for page in (yield reads) for uid in page]
    return uids[::-1] if newest_first else uids


def queued_parts(k: QueueKeys) -> Op[list[tuple[Part, int]]]:
    """The parts of the queued index in line order with their sizes (a search walks them as one
    sequence, search.py): two round trips, the parts then their sizes; none when the queue is empty."""
    parts = yield from _index_parts(k)
    if not parts:
        return []
    sizes = yield [part.size() for part in parts]
    return [(part, int(size)) for part, size in zip(parts, sizes, strict=True)]


def queued_indexes(k: QueueKeys) -> Op[list[str]]:
    """Every index that holds queued jobs (for purge.lua): the legacy zset, each level's list, and the
    parked set of every limit that holds some (its entry in `limited` goes when a fetch finds it empty)."""
    legacy, levels = yield [Command(("ZCARD", k.queued)), Command(("ZRANGE", k.levels, 0, -1))]
    indexes = [part.key for part in _parts(k, int(legacy), levels, [])]
    offset = 0
    while True:
        specs = yield Command(("ZRANGE", k.part("limited"), offset, offset + PARKED_SPECS - 1))
        indexes += [parked_key_of(k.base, spec) for spec in specs]
        offset += PARKED_SPECS
        if len(specs) < PARKED_SPECS:
            return indexes
