"""The `Job` handle: look a job up, wait for its result, cancel it. Sync twins end in `_sync`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import codec, ops, retry_edit, shard_channels
from .errors import JobFailed, ResultTimeout
from .job import JobError, JobInfo, JobState
from .keys import QueueKeys, make_job_id, split_job_id
from .operation import Op
from .task import JobSpec

if TYPE_CHECKING:
    from .client import RedisQ

# While a waiter is subscribed, a missed message (a reconnect in between) is caught by re-reading the
# job this often. Finishing a job publishes, so this is a safety net, not the way results arrive.
_RECHECK_S = 5.0


def _outcome(job_id: str, state: JobState, result: Any, error: Any) -> Any:
    if state is JobState.SUCCEEDED:
        return codec.loads(result) if result else None
    raise JobFailed(job_id, state, JobError.from_json(error) if error else None)


class Job:
    """A handle on one job by id; holds no state of the job itself (see `info()`)."""

    def __init__(self, rq: RedisQ, job_id: str, created: bool = True) -> None:
        self.rq = rq
        self.id = job_id
        self.queue, self.uid = split_job_id(job_id)
        self.created = created  # False: a unique key matched, and this is the job that holds it

    @classmethod
    def from_parts(cls, rq: RedisQ, queue: str, uid: str, created: bool = True) -> Job:
        """Without parsing an id (bulk enqueue makes thousands)."""
        job = cls.__new__(cls)
        job.rq, job.id, job.queue, job.uid, job.created = rq, make_job_id(queue, uid), queue, uid, created
        return job

    def __repr__(self) -> str:
        return f"<Job {self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def _keys(self) -> QueueKeys:
        return self.rq.queue_keys(self.queue)

    async def info(self) -> JobInfo:
        return await self.rq.backend().run(ops.job_info(self._keys, self.id, self.uid))

    def info_sync(self) -> JobInfo:
        return self.rq.backend_sync().run(ops.job_info(self._keys, self.id, self.uid))

    async def cancel(self) -> bool:
        """Cancel a queued or scheduled job; False if it already started or ended."""
        return await self.rq.backend().run(ops.cancel(self._keys, self.id, self.uid, self.rq.now_ms()))

    def cancel_sync(self) -> bool:
        return self.rq.backend_sync().run(ops.cancel(self._keys, self.id, self.uid, self.rq.now_ms()))

    def _abort_op(self) -> Op[bool]:
        return ops.abort(self._keys, self.id, self.uid, self.rq.now_ms())

    async def abort(self) -> bool:
        """Stop the job: a queued or scheduled one is cancelled; a running one is told to stop through its
        worker (an `async def` task is cancelled there, a `def` task sees `current_job.get().aborted`)
        and ends `aborted`, without a retry. False if it had already ended; JobNotFound if unknown."""
        return await self.rq.backend().run(self._abort_op())

    def abort_sync(self) -> bool:
        return self.rq.backend_sync().run(self._abort_op())

    async def delete(self) -> bool:
        """Delete the job and its record; False if it is running (a worker holds it)."""
        return await self.rq.backend().run(ops.delete(self._keys, self.id, self.uid))

    def delete_sync(self) -> bool:
        return self.rq.backend_sync().run(ops.delete(self._keys, self.id, self.uid))

    async def promote(self) -> bool:
        """Run a scheduled job (delayed, or waiting for a retry) now; False if it is not scheduled."""
        return await self.rq.backend().run(ops.promote(self._keys, self.id, self.uid))

    def promote_sync(self) -> bool:
        return self.rq.backend_sync().run(ops.promote(self._keys, self.id, self.uid))

    async def retry(self) -> bool:
        """A dead job back with fresh attempts, or a job waiting for its next attempt run now."""
        return await self.rq.backend().run(ops.retry(self._keys, self.id, self.uid))

    def retry_sync(self) -> bool:
        return self.rq.backend_sync().run(ops.retry(self._keys, self.id, self.uid))

    def _retry_with_op(self, args: Sequence[Any], kwargs: dict[str, Any] | None) -> Op[bool]:
        def check(task: str, call_args: list[Any], call_kwargs: dict[str, Any]) -> JobSpec:
            return self.rq.call_by_name(task, call_args, call_kwargs, queue=self.queue)

        return retry_edit.retry_edited(
            self._keys, self.id, self.uid, self.rq.settings, check, list(args), dict(kwargs or {})
        )

    async def retry_with(self, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None) -> bool:
        """A dead job back on its queue with new arguments and fresh attempts, under the same id, its
        history kept: for a job that died of its arguments. False if it is not dead. The arguments are
        checked as `call_by_name` checks them (InvalidArguments, TaskNotFound, PayloadTooLarge), before
        anything is written."""
        return await self.rq.backend().run(self._retry_with_op(args, kwargs))

    def retry_with_sync(self, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None) -> bool:
        return self.rq.backend_sync().run(self._retry_with_op(args, kwargs))

    async def result(self, timeout: float | None = None) -> Any:
        """The job's return value, once it succeeds. Raises JobFailed if it ends otherwise.

        The waiter subscribes to the job's channel before marking it awaited, and the scripts that end a
        job publish only to awaited jobs, so no finish is missed and no Redis polling is needed.
        """
        backend = self.rq.backend()
        deadline = None if timeout is None else time.monotonic() + timeout
        # Subscribed (confirmed) before the watch: a finish after the watch is heard.
        pubsub = await shard_channels.subscribe(backend.client, self._keys.done_channel(self.uid), _RECHECK_S)
        try:
            while True:
                state, result, error = await backend.run(ops.watch(self._keys, self.id, self.uid))
                if state.is_final:
                    return _outcome(self.id, state, result, error)
                wait = _RECHECK_S if deadline is None else min(_RECHECK_S, deadline - time.monotonic())
                if wait <= 0:
                    raise ResultTimeout(f"job {self.id} is still {state.value} after {timeout}s")
                await shard_channels.next_message(pubsub, wait)
        finally:
            await pubsub.aclose()

    def result_sync(self, timeout: float | None = None) -> Any:
        backend = self.rq.backend_sync()
        deadline = None if timeout is None else time.monotonic() + timeout
        pubsub = shard_channels.subscribe_sync(backend.client, self._keys.done_channel(self.uid), _RECHECK_S)
        try:
            while True:
                state, result, error = backend.run(ops.watch(self._keys, self.id, self.uid))
                if state.is_final:
                    return _outcome(self.id, state, result, error)
                wait = _RECHECK_S if deadline is None else min(_RECHECK_S, deadline - time.monotonic())
                if wait <= 0:
                    raise ResultTimeout(f"job {self.id} is still {state.value} after {timeout}s")
                shard_channels.next_message_sync(pubsub, wait)
        finally:
            pubsub.close()
