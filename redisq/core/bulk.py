"""One action on many jobs of a queue (issue 17), sans-I/O: the single-job scripts, many to a round trip.

Each job goes through the very script its own action runs (cancel, delete, promote, requeue_dead), so a
bulk action changes nothing that the single one would not, and each answers for its job: a job whose
state no longer allows the action is counted under a reason, never dropped in silence. A batch of N jobs
is one pipelined round trip (two for `retry`: the jobs that were not dead are then promoted, as
`Job.retry` does), and all of a queue's keys share its Cluster slot, so the pipeline goes to one node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from . import ops
from .job import JobState
from .keys import QueueKeys
from .operation import Command, Op, Single

BulkAction = Literal["retry", "requeue", "cancel", "delete"]
BULK_ACTIONS: tuple[str, ...] = get_args(BulkAction)
BULK_BATCH = 500  # jobs one call acts on, at most

# The states whose index an action is worth walking: its jobs are those it can apply to.
ACTION_STATES: dict[str, tuple[JobState, ...]] = {
    "requeue": (JobState.DEAD,),
    "retry": (JobState.DEAD, JobState.SCHEDULED),  # Job.retry: a dead one requeued, a scheduled one run now
    "cancel": (JobState.QUEUED, JobState.SCHEDULED, JobState.WAITING),
    "delete": (JobState.QUEUED, JobState.SCHEDULED, JobState.SUCCEEDED, JobState.DEAD, JobState.WAITING),
}

# Why a job was skipped, as the scripts tell it.
GONE = "gone"  # no such job any more: its record expired, or it was deleted
NOT_DEAD = "not_dead"  # requeue: it is not a dead letter (any more)
CANNOT_RUN = "cannot_run"  # requeue, retry: a dead letter with nothing to run (a buried record); it stays
NOT_RETRYABLE = "not_retryable"  # retry: neither dead nor scheduled
NOT_CANCELLABLE = "not_cancellable"  # cancel: it started or ended
RUNNING = "running"  # delete: a worker holds it


@dataclass(frozen=True)
class BulkOutcome:
    done: int
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> jobs


def act(k: QueueKeys, action: BulkAction, uids: Sequence[str], now_ms: int) -> Op[BulkOutcome]:
    """Run `action` on each job of `uids` (distinct) of one queue."""
    if not uids:
        return BulkOutcome(0)
    skipped: Counter[str] = Counter()
    if action in ("cancel", "delete"):
        calls: list[Single] = [
            ops.cancel_call(k, uid, now_ms) if action == "cancel" else ops.delete_call(k, uid) for uid in uids
        ]
        replies = yield calls
        refused = NOT_CANCELLABLE if action == "cancel" else RUNNING
        skipped.update(GONE if reply == -1 else refused for reply in replies if reply != 1)
        return BulkOutcome(sum(1 for reply in replies if reply == 1), dict(skipped))
    # requeue_dead answers {0, 0} both for a job that is not dead and for one that is gone: the record's
    # existence, read just before in the same round trip, tells them apart (retry asks promote instead).
    calls = []
    for uid in uids:
        if action == "requeue":
            calls.append(Command(("EXISTS", k.job(uid))))
        calls.append(ops.requeue_call(k, [uid]))
    replies = yield calls
    requeues = replies[1::2] if action == "requeue" else replies
    done, rest = 0, []
    for i, (uid, (requeued, kept)) in enumerate(zip(uids, requeues, strict=True)):
        if requeued:
            done += 1
        elif kept:
            skipped[CANNOT_RUN] += 1
        elif action == "requeue":
            skipped[NOT_DEAD if replies[2 * i] else GONE] += 1
        else:
            rest.append(uid)
    if rest:  # retry: the jobs that were not dead run now if they wait for their time
        promoted = yield [ops.promote_call(k, uid) for uid in rest]
        done += sum(1 for reply in promoted if reply == 1)
        skipped.update(GONE if reply == -1 else NOT_RETRYABLE for reply in promoted if reply != 1)
    return BulkOutcome(done, dict(skipped))
