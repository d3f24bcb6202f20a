"""The client's search and bulk actions (issue 17), with sync twins: a mixin of RedisQ, as queue_admin.py is.

`search_jobs` pages through the jobs of one state that match a `JobFilter`; `bulk` runs one action on
jobs named by id; `bulk_matching` runs it on a batch of the jobs a filter matches and says where the next
batch starts. Each call's cost is bounded (search.py, bulk.py): callers go on batch after batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import bulk, search
from .backend import AsyncBackend, SyncBackend
from .bulk import BULK_BATCH, BulkAction, BulkOutcome
from .errors import InvalidJobId
from .job import JobState
from .keys import QueueKeys, split_job_id
from .operation import Op
from .search import MAX_EXAMINED, JobFilter, SearchPage


@dataclass(frozen=True)
class BulkBatch:
    """One batch of a bulk action on the jobs a filter matches."""

    outcome: BulkOutcome
    matched: int  # the matches this batch found (acted on, or skipped with a reason)
    searched: int  # index entries it looked at
    total: int  # entries in the state's index
    next_cursor: int | None  # pass it as `cursor` for the next batch; None: nothing is left to walk


class JobSearch:
    if TYPE_CHECKING:  # provided by RedisQ

        def backend(self) -> AsyncBackend: ...
        def backend_sync(self) -> SyncBackend: ...
        def queue_keys(self, queue: str) -> QueueKeys: ...
        def now_ms(self) -> int: ...

    def _search_op(
        self,
        queue: str,
        state: JobState,
        job_filter: JobFilter,
        offset: int,
        limit: int,
        newest_first: bool,
        max_examined: int,
    ) -> Op[SearchPage]:
        k = self.queue_keys(queue)
        return search.page(k, state, job_filter, offset, limit, newest_first, max_examined)

    async def search_jobs(
        self,
        queue: str,
        state: JobState,
        job_filter: JobFilter,
        *,
        offset: int = 0,
        limit: int = 50,
        newest_first: bool = True,
        max_examined: int = MAX_EXAMINED,
    ) -> SearchPage:
        """Up to `limit` jobs in `state` that match, from position `offset` of the page's order, looking
        at `max_examined` index entries at most: a page shorter than `limit` with a `next_offset` was cut
        there, and goes on from it."""
        op = self._search_op(queue, state, job_filter, offset, limit, newest_first, max_examined)
        return await self.backend().run(op)

    def search_jobs_sync(
        self,
        queue: str,
        state: JobState,
        job_filter: JobFilter,
        *,
        offset: int = 0,
        limit: int = 50,
        newest_first: bool = True,
        max_examined: int = MAX_EXAMINED,
    ) -> SearchPage:
        op = self._search_op(queue, state, job_filter, offset, limit, newest_first, max_examined)
        return self.backend_sync().run(op)

    def _bulk_op(self, queue: str, action: BulkAction, job_ids: Sequence[str]) -> Op[BulkOutcome]:
        uids = list(dict.fromkeys(_uid_of(queue, job_id) for job_id in job_ids))  # once each, in order
        if len(uids) > BULK_BATCH:
            raise ValueError(f"a bulk action takes at most {BULK_BATCH} jobs per call, got {len(uids)}")
        return bulk.act(self.queue_keys(queue), action, uids, self.now_ms())

    async def bulk(self, queue: str, action: BulkAction, job_ids: Sequence[str]) -> BulkOutcome:
        """Retry, requeue, cancel or delete these jobs of `queue` (at most BULK_BATCH), as their own
        actions would; the outcome counts those done and, by reason, those their state did not allow."""
        return await self.backend().run(self._bulk_op(queue, action, job_ids))

    def bulk_sync(self, queue: str, action: BulkAction, job_ids: Sequence[str]) -> BulkOutcome:
        return self.backend_sync().run(self._bulk_op(queue, action, job_ids))

    def _bulk_matching_op(
        self,
        queue: str,
        action: BulkAction,
        state: JobState,
        job_filter: JobFilter,
        cursor: int | None,
        batch: int,
        max_examined: int,
        dry_run: bool,
    ) -> Op[BulkBatch]:
        k = self.queue_keys(queue)
        want = max_examined if dry_run else batch  # a dry run counts every match within its entries
        found = yield from search.find(
            k, state, job_filter, below=cursor, want=want, max_examined=max_examined
        )
        outcome = BulkOutcome(0) if dry_run else (yield from bulk.act(k, action, found.uids, self.now_ms()))
        return BulkBatch(outcome, len(found.uids), found.examined, found.total, found.next_rank)

    async def bulk_matching(
        self,
        queue: str,
        action: BulkAction,
        state: JobState,
        job_filter: JobFilter,
        *,
        cursor: int | None = None,
        batch: int = BULK_BATCH,
        max_examined: int = MAX_EXAMINED,
        dry_run: bool = False,
    ) -> BulkBatch:
        """One batch of `action` on the jobs in `state` that match: at most `batch` of them, found within
        `max_examined` index entries from `cursor` (None: the newest). Call again with `next_cursor` until
        it is None. `dry_run` acts on none and counts every match within those entries."""
        op = self._bulk_matching_op(queue, action, state, job_filter, cursor, batch, max_examined, dry_run)
        return await self.backend().run(op)

    def bulk_matching_sync(
        self,
        queue: str,
        action: BulkAction,
        state: JobState,
        job_filter: JobFilter,
        *,
        cursor: int | None = None,
        batch: int = BULK_BATCH,
        max_examined: int = MAX_EXAMINED,
        dry_run: bool = False,
    ) -> BulkBatch:
        op = self._bulk_matching_op(queue, action, state, job_filter, cursor, batch, max_examined, dry_run)
        return self.backend_sync().run(op)


def _uid_of(queue: str, job_id: str) -> str:
    """The uid of a job id of `queue` (`<queue>:<uid>`); an id of another queue is refused."""
    named, uid = split_job_id(job_id)
    if named != queue:
        raise InvalidJobId(f"job {job_id!r} is not in queue {queue!r}")
    return uid
