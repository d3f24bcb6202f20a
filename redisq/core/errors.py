"""The one exception tree of redisq.

    RedisQError
    ├── ConfigurationError
    │   ├── MissingDependency            (also ImportError)
    │   ├── EmbeddedServerError          no Redis configured and no server binary to start
    │   ├── RegistryFrozen               a task registered after a worker started
    │   ├── RedisPermissionDenied        (also PermissionError) the Redis user may not run a command
    │   └── UnsupportedRedis             a Redis that redisq cannot work with (a Cluster node's URL given
    │                                    as redis://, a redis+cluster:// URL whose nodes are no Cluster)
    ├── SerializationError               (also TypeError) arguments or result not JSON-encodable
    │   └── PayloadTooLarge              (also ValueError) encoded job over the size limit
    ├── TaskNotFound                     (also LookupError) enqueue by an unregistered name
    ├── InvalidArguments                 (also ValueError) arguments that do not fit the task's signature
    ├── JobNotFound                      (also LookupError) unknown or expired job id
    ├── ScheduleNotFound                 (also LookupError) no periodic job with that id
    ├── ConcurrentUpdate                 a schedule kept changing while it was written; try again
    ├── InvalidJobId                     (also ValueError) an id that names no queue
    ├── JobFailed                        waited for a result; the job ended dead, cancelled or expired
    ├── ResultTimeout                    (also TimeoutError) waited for a result and it did not come
    ├── CorruptData                      a queue's key holds data of the wrong type; nothing was written
    ├── HookFailed                       a worker start hook raised: the worker stopped before any job
    ├── JobTimeout                       (also TimeoutError) a job ran past its timeout (its error type)
    ├── JobAborted                       raised in a task by `current_job.get().raise_if_aborted()`
    ├── Retry                            raised by a task: run me again at this time (spends an attempt)
    ├── RedisUnavailable                 (also ConnectionError) Redis cannot be reached right now, or
    │   │                                refuses writes for now (a read-only replica, a failover)
    │   └── WriteNotReplicated           enqueued on the master, but fewer replicas confirmed it than
    │                                    `Settings.replica_acks` asks: the job may exist, unconfirmed
    └── RateLimited                      raised BY a task (limits.py): back later, no attempt spent

Adapters map these to HTTP status codes in one place each (see issue 4).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .job import JobError, JobState


class RedisQError(Exception):
    """Root of every error that redisq raises on purpose."""


class ConfigurationError(RedisQError):
    """redisq was set up in a way that cannot work."""


class MissingDependency(ConfigurationError, ImportError):
    """An optional extra is needed; the message says which `pip install` fixes it."""


class EmbeddedServerError(ConfigurationError):
    """No Redis URL was given and no local server could be started."""


class RegistryFrozen(ConfigurationError):
    """Tasks must be registered before a worker starts, so every worker knows the same set."""


class SerializationError(RedisQError, TypeError):
    """Arguments or a result that the JSON codec cannot encode."""


class PayloadTooLarge(SerializationError, ValueError):
    """The encoded job is larger than `Settings.max_payload_bytes`."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"job payload is {size} bytes, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class TaskNotFound(RedisQError, LookupError):
    """No task is registered under that name."""


class InvalidArguments(RedisQError, ValueError):
    """Arguments (e.g. from JSON over HTTP) that the task's signature or annotations cannot take."""


class JobNotFound(RedisQError, LookupError):
    """The job does not exist, or its record expired."""


class ScheduleNotFound(RedisQError, LookupError):
    """No schedule (periodic job) has that id."""


class WorkflowNotFound(RedisQError, LookupError):
    """No workflow has that id (never enqueued with it, or its graph expired)."""


class ConcurrentUpdate(RedisQError):
    """A compare-and-set kept losing to other writers (a schedule's ticks); nothing was written."""


class InvalidJobId(RedisQError, ValueError):
    """A job id must have the form `<queue>:<uid>`."""


class JobFailed(RedisQError):
    """The awaited job ended without a result."""

    def __init__(self, job_id: str, state: JobState, error: JobError | None) -> None:
        detail = f": {error.type}: {error.message}" if error else ""
        super().__init__(f"job {job_id} ended {state.value}{detail}")
        self.job_id = job_id
        self.state = state
        self.error = error


class ResultTimeout(RedisQError, TimeoutError):
    """The job did not finish within the timeout given to `result()`."""


class RedisPermissionDenied(ConfigurationError, PermissionError):
    """The Redis user lacks a permission that redisq needs (an ACL `NOPERM`); the message names it."""


class UnsupportedRedis(ConfigurationError):
    """A server redisq cannot use as configured, e.g. one node of a Redis Cluster given as a plain URL."""


class HookFailed(RedisQError):
    """A worker start hook raised (the hook's error is the cause): the worker took no job."""


class JobTimeout(RedisQError, TimeoutError):
    """The job ran past its `timeout`: the error a worker records for it (list it in a task's `retry_on`
    to retry timeouts when `retry_on` is given)."""


class JobAborted(RedisQError):
    """The running job was asked to stop (`job.abort()`): raised inside the task by
    `current_job.get().raise_if_aborted()`; the worker settles the job `aborted`, without a retry."""


class Retry(RedisQError):
    """Raise from a task to run it again later: `raise Retry(in_s=30)` or `raise Retry(at=datetime)`.

    It spends an attempt (the job goes dead if none is left) and is logged as a planned retry, not as a
    failure. Neither `in_s` nor `at`: the task's backoff decides.
    """

    def __init__(self, in_s: float | None = None, *, at: datetime | None = None) -> None:
        if in_s is not None and at is not None:
            raise ValueError("Retry takes in_s or at, not both")
        if in_s is not None and not (in_s >= 0 and math.isfinite(in_s)):
            raise ValueError(f"Retry(in_s=...) must be a finite number of seconds >= 0, got {in_s!r}")
        self.in_s = in_s
        self.at = at if at is None or at.tzinfo else at.replace(tzinfo=timezone.utc)
        when = f"in {in_s}s" if in_s is not None else f"at {self.at.isoformat()}" if self.at else "later"
        super().__init__(f"the task asked to be retried {when}")

    def due_ms(self, now_ms: int) -> int | None:
        """When to run again (epoch ms), or None for the task's backoff."""
        if self.at is not None:
            return int(self.at.timestamp() * 1000)
        if self.in_s is not None:
            return now_ms + int(self.in_s * 1000)
        return None


class CorruptData(RedisQError):
    """A key of a queue holds another type than redisq keeps there; the script wrote nothing."""


class RedisUnavailable(RedisQError, ConnectionError):
    """Redis could not be reached, or refused writes for now (read-only replica); nothing happened."""


class WriteNotReplicated(RedisUnavailable):
    """With `Settings.replica_acks`, fewer replicas than asked confirmed an enqueue in time.

    Unlike its parent, something may have happened: the master wrote the job, but it may be lost in a
    failover. Retrying with a unique key (`unique_key=`) is safe: it cannot create the job twice."""
