"""Bulk actions (issue 17), free of any web framework: `POST M/{queue}/bulk`, ADMIN, a JSON body.

    {"action": "retry" | "requeue" | "cancel" | "delete", "ids": ["<queue>:<uid>" or "<uid>", ...]}
    {"action": ..., "filter": {"state": ..., "task", "q", "request_id", "error", "since", "until"},
     "cursor": null | <the previous answer's `next`>, "dry_run": false}

A request does one bounded batch: the ids given (at most BULK_BATCH), or the next BULK_BATCH jobs the
filter matches within MAX_EXAMINED entries of the state's index, walked from the newest down from
`cursor`. The answer counts what was done and, by reason, what was skipped (a job whose state no longer
allows the action is never dropped in silence), and gives the `next` cursor, null once nothing is left:
a client calls again with it until then, and can show its progress between calls. `dry_run` (with a
filter) acts on nothing and counts every match within the batch's entries: how a client learns how many
a bulk action will touch before asking for it.

The filter's state must be one the action applies to (`requeue`: dead; `retry`: dead or scheduled;
`cancel`: queued, scheduled or waiting; `delete`: any but active), so that no request walks an index
whose every job it would skip.
"""

from __future__ import annotations

from typing import Any, cast

from redisq.core.bulk import ACTION_STATES, BULK_ACTIONS, BULK_BATCH, BulkAction, BulkOutcome
from redisq.core.client import RedisQ
from redisq.core.job import JobState
from redisq.core.keys import ID_SEPARATOR, make_job_id
from redisq.core.search import MAX_EXAMINED

from .actions import MAX_OFFSET, require_queue
from .errors import InvalidParameter
from .payloads import BulkDone
from .search import FILTER_PARAMS, job_filter

BULK_FIELDS = ("action", "ids", "filter", "cursor", "dry_run")


def _action(body: dict[str, Any]) -> BulkAction:
    action = body.get("action")
    if action not in BULK_ACTIONS:
        raise InvalidParameter(
            f"action must be one of {', '.join(BULK_ACTIONS)}; got {action!r}", field="action"
        )
    return cast(BulkAction, action)


def _ids(queue: str, raw: object) -> list[str]:
    """The job ids of a selection, each `<queue>:<uid>` of this queue or a bare uid; once each."""
    if not isinstance(raw, list) or not raw or len(raw) > BULK_BATCH:
        raise InvalidParameter(f"ids must be a list of 1 to {BULK_BATCH} job ids", field="ids")
    ids = []
    for item in raw:
        if not isinstance(item, str) or not item:
            raise InvalidParameter("each of ids must be a job id or a uid (a non-empty string)", field="ids")
        named, sep, uid = item.rpartition(ID_SEPARATOR)
        if (sep and named != queue) or not uid:
            raise InvalidParameter(f"{item!r} is not a job of queue {queue!r}", field="ids")
        ids.append(make_job_id(queue, uid))
    return list(dict.fromkeys(ids))


def _state(action: BulkAction, raw: object) -> JobState:
    allowed = [state.value for state in ACTION_STATES[action]]
    if raw not in allowed:
        raise InvalidParameter(
            f"filter.state must be the state whose jobs to {action}: {', '.join(allowed)}; got {raw!r}",
            field="state",
        )
    return JobState(raw)


def _cursor(raw: object) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_OFFSET:
        raise InvalidParameter("cursor must be null or the `next` of the previous answer", field="cursor")
    return raw


def _done(action: str, dry_run: bool, outcome: BulkOutcome, matched: int) -> BulkDone:
    return {
        "action": action,
        "dry_run": dry_run,
        "done": outcome.done,
        "skipped": outcome.skipped,
        "matched": matched,
        "searched": 0,
        "total": None,
        "next": None,
    }


async def bulk(rq: RedisQ, queue: str, raw: object) -> BulkDone:
    """One batch of a bulk action; see the module's docstring."""
    if not isinstance(raw, dict):
        raise InvalidParameter("the body must be a JSON object with an 'action'", field="body")
    unknown = sorted(set(raw) - set(BULK_FIELDS))
    if unknown:
        raise InvalidParameter(
            f"unknown field(s) {unknown}; allowed: {', '.join(BULK_FIELDS)}", field=unknown[0]
        )
    action = _action(raw)
    dry_run = raw.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise InvalidParameter("dry_run must be true or false", field="dry_run")
    if ("ids" in raw) == ("filter" in raw):
        raise InvalidParameter("give either ids (a selection) or filter (every job it matches)", field="ids")
    if "ids" in raw:
        if dry_run or raw.get("cursor") is not None:
            raise InvalidParameter("dry_run and cursor go with a filter, not with ids", field="ids")
        ids = _ids(queue, raw["ids"])
        await require_queue(rq, queue)
        return _done(action, False, await rq.bulk(queue, action, ids), len(ids))
    spec = raw["filter"]
    if not isinstance(spec, dict):
        raise InvalidParameter("filter must be a JSON object with a 'state'", field="filter")
    unknown = sorted(set(spec) - {"state", *FILTER_PARAMS})
    if unknown:
        raise InvalidParameter(f"unknown filter field(s) {unknown}", field=unknown[0])
    state, wanted, cursor = _state(action, spec.get("state")), job_filter(spec), _cursor(raw.get("cursor"))
    await require_queue(rq, queue)
    found = await rq.bulk_matching(
        queue,
        action,
        state,
        wanted,
        cursor=cursor,
        batch=BULK_BATCH,
        max_examined=MAX_EXAMINED,
        dry_run=dry_run,
    )
    return {
        **_done(action, dry_run, found.outcome, found.matched),
        "searched": found.searched,
        "total": found.total,
        "next": found.next_cursor,
    }
