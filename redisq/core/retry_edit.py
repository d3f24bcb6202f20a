"""Edit and retry (issue 17): a dead job back on its queue with new arguments, under the same id.

The job keeps its id, its record and its history of attempts (a new job would leave the failures it is a
fix for on another job's page, and whoever holds the id, a web page or a workflow, would not see it run
again). The arguments are checked as an enqueue by name checks them (`RedisQ.call_by_name`: the task's
signature and annotations, the payload size limit) before anything is sent; `retry_edited.lua` then
swaps the payload and requeues the job in one script, if the payload is still the one read here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from . import codec
from .config import Settings
from .errors import ConcurrentUpdate, JobNotFound
from .job import JobInfo, JobState, record_payload
from .keys import QueueKeys
from .operation import Command, Op, ScriptCall
from .task import JobSpec

# (task name, args, kwargs) -> the job as an enqueue would make it; raises TaskNotFound, InvalidArguments.
CheckCall = Callable[[str, list[Any], dict[str, Any]], JobSpec]


def retry_edited(
    k: QueueKeys,
    job_id: str,
    uid: str,
    settings: Settings,
    check: CheckCall,
    args: list[Any],
    kwargs: dict[str, Any],
) -> Op[bool]:
    """True once the dead job is queued again with `args` and `kwargs`; False if it is not dead (nothing
    written). JobNotFound for no such job; ConcurrentUpdate when its payload changed meanwhile (another
    edit); TaskNotFound, InvalidArguments, SerializationError or PayloadTooLarge for arguments that the
    task cannot take, all before anything is written."""
    fields = yield Command(("HGETALL", k.job(uid)), tolerant=True)
    if isinstance(fields, Exception) or not fields:
        raise JobNotFound(f"no job {job_id}")
    info = JobInfo.from_hash(job_id, k.queue, fields)
    if info.state is not JobState.DEAD:
        return False
    spec = check(info.task, args, kwargs)
    # The envelope's meta (request id, trace context, timeout, workflow) is the job's own: only the call
    # changes.
    payload = spec.encode(info.meta, settings.max_payload_bytes, settings.envelope_version)
    signature = codec.sign(payload, settings.signing_key) if settings.signing_key else ""
    read = hashlib.sha1(record_payload(fields), usedforsecurity=False).hexdigest()
    keys = (k.dead, k.levels, k.stats, k.wake)
    reply = yield ScriptCall("retry_edited", keys, (k.base, uid, read, payload, signature, spec.limits))
    if reply == -1:
        raise JobNotFound(f"no job {job_id}")
    if reply == -2:
        raise ConcurrentUpdate(f"job {job_id} was changed by someone else meanwhile: read it again")
    return bool(reply == 1)
