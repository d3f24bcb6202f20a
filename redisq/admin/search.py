"""The job listing's filters (issue 17), free of any web framework: `GET M/{queue}/jobs?task=...`.

task        the task's name, exactly
q           text in the JSON of the job's args or of its kwargs, as stored (compact: `"user_id":42`),
            case-sensitive
request_id  the id of the web request that enqueued it
error       the type of its last error, exactly (`ValueError`)
since/until ISO 8601 with an offset (`2026-03-29T02:30:00Z`, `...+02:00`) or epoch seconds: the time the
            listing shows for the state (enqueued, due, started, finished), since <= t < until

Every value is checked here once for every adapter: an empty or oversized one, or a time that is not one,
is a 422 naming its parameter. A filtered page is found by `RedisQ.search_jobs`, which looks at no more
than MAX_EXAMINED entries of the state's index per request; the answer says how many it looked at
(`searched`, of `total`) and where to go on from (`next`, as `offset`; null when the index was walked
to its end).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime

from redisq.core.client import RedisQ
from redisq.core.job import JobState
from redisq.core.search import MAX_EXAMINED, JobFilter

from .errors import InvalidParameter
from .payloads import JobFilterBody, SearchedPage, epoch_iso, job_body

FILTER_PARAMS = ("task", "q", "request_id", "error", "since", "until")
MAX_FILTER_CHARS = 500  # longer than any task name, id or error type; text to look for needs no more
# Epoch seconds as a number: digits, maybe a fraction (the API writes times as ISO; scripts use these).
_EPOCH = re.compile(r"[0-9]{1,11}(\.[0-9]{1,6})?")
_TEXT_FIELDS = {"task": "task", "q": "args_contain", "request_id": "request_id", "error": "error_type"}


def _text(name: str, raw: object) -> str:
    if not isinstance(raw, str) or not raw:
        raise InvalidParameter(f"{name} must be a non-empty string", field=name)
    if len(raw) > MAX_FILTER_CHARS:
        raise InvalidParameter(f"{name} is longer than {MAX_FILTER_CHARS} characters", field=name)
    return raw


def time_ms(name: str, raw: object) -> int:
    """A time given as ISO 8601 with an offset, or as epoch seconds (a string from a query, or a JSON
    number), in epoch milliseconds."""
    seconds: float | None = None
    number = isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw) and raw >= 0
    if number or (isinstance(raw, str) and _EPOCH.fullmatch(raw)):
        seconds = float(raw)  # type: ignore[arg-type]
    elif isinstance(raw, str) and len(raw) <= 40:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is None:
            raise InvalidParameter(
                f"{name} needs an offset, e.g. {raw}Z or {raw}+02:00: a time without one names no moment",
                field=name,
            )
        if moment is not None and moment.year >= 1970:
            seconds = moment.timestamp()
    if seconds is None or seconds >= 1e11:  # beyond year 5138: a number of milliseconds, by mistake
        raise InvalidParameter(
            f"{name} must be an ISO 8601 time with an offset (2026-03-29T02:30:00Z) or epoch seconds; "
            f"got {raw!r}",
            field=name,
        )
    return round(seconds * 1000)


def job_filter(values: Mapping[str, object]) -> JobFilter:
    """The filter that `values` (the query parameters or a body's fields named in FILTER_PARAMS) ask for;
    absent names (or None) filter nothing."""
    given = {name: value for name, value in values.items() if name in FILTER_PARAMS and value is not None}
    fields: dict[str, object] = {_TEXT_FIELDS[n]: _text(n, v) for n, v in given.items() if n in _TEXT_FIELDS}
    since = time_ms("since", given["since"]) if "since" in given else None
    until = time_ms("until", given["until"]) if "until" in given else None
    if since is not None and until is not None and since >= until:
        raise InvalidParameter("until must be after since (the range is since <= t < until)", field="until")
    return JobFilter(since_ms=since, until_ms=until, **fields)  # type: ignore[arg-type]


def filter_body(job_filter: JobFilter) -> JobFilterBody:
    """The filter as the API echoes it: the parameters given, times as ISO 8601 in UTC."""
    body: JobFilterBody = {}
    values = asdict(job_filter)
    for name, field in _TEXT_FIELDS.items():
        if values[field] is not None:
            body[name] = values[field]  # type: ignore[literal-required]
    if job_filter.since_ms is not None:
        body["since"] = epoch_iso(job_filter.since_ms / 1000)
    if job_filter.until_ms is not None:
        body["until"] = epoch_iso(job_filter.until_ms / 1000)
    return body


async def filtered_page(
    rq: RedisQ, queue: str, state: JobState, offset: int, limit: int, newest_first: bool, flt: JobFilter
) -> SearchedPage:
    """A page of the matches (the listing's handler calls it when a filter is given)."""
    found = await rq.search_jobs(
        queue, state, flt, offset=offset, limit=limit, newest_first=newest_first, max_examined=MAX_EXAMINED
    )
    return {
        "items": [job_body(info) for info in found.jobs],
        "state": state.value,
        "order": "newest" if newest_first else "oldest",
        "offset": offset,
        "limit": limit,
        "total": found.total,
        "filter": filter_body(flt),
        "searched": found.searched,
        "next": found.next_offset,
    }
