"""The front door: what `import redisq` offers is pinned, so changes to it are deliberate."""

from __future__ import annotations

import redisq
from redisq import RedisQError


def test_public_names_are_pinned() -> None:
    assert sorted(redisq.__all__) == [
        "Backoff",
        "BoundTask",
        "ConcurrentUpdate",
        "ConfigurationError",
        "CorruptData",
        "Dedupe",
        "Dependency",
        "EmbeddedServerError",
        "HealthProblem",
        "HealthReport",
        "HealthThresholds",
        "HookFailed",
        "InvalidArguments",
        "InvalidJobId",
        "Job",
        "JobAborted",
        "JobContext",
        "JobError",
        "JobFailed",
        "JobInfo",
        "JobMiddleware",
        "JobNotFound",
        "JobSpec",
        "JobState",
        "JobTimeout",
        "Limit",
        "LogContext",
        "MissingDependency",
        "PayloadTooLarge",
        "QueueHealth",
        "QueueStats",
        "RateLimit",
        "RateLimited",
        "RedisPermissionDenied",
        "RedisQ",
        "RedisQError",
        "RedisUnavailable",
        "RegistryFrozen",
        "ResultTimeout",
        "Retry",
        "Schedule",
        "ScheduleInfo",
        "ScheduleNotFound",
        "SerializationError",
        "Settings",
        "Task",
        "TaskNotFound",
        "TaskOptions",
        "UnsupportedRedis",
        "Worker",
        "WorkerContext",
        "WorkerInfo",
        "WorkerSettings",
        "Workflow",
        "WorkflowNotFound",
        "WriteNotReplicated",
        "__version__",
        "chain",
        "chord",
        "current_job",
        "group",
        "step",
    ]
    for name in redisq.__all__:
        assert hasattr(redisq, name)


def test_every_error_is_a_redisq_error() -> None:
    errors = [
        getattr(redisq, n)
        for n in redisq.__all__
        if isinstance(getattr(redisq, n), type) and issubclass(getattr(redisq, n), Exception)
    ]
    # issue 12: RateLimited, ScheduleNotFound, ConcurrentUpdate, HookFailed, JobAborted, JobTimeout, Retry
    # issue 13: WriteNotReplicated; issue 16: WorkflowNotFound
    assert len(errors) == 26
    assert all(issubclass(e, RedisQError) for e in errors)
    assert issubclass(redisq.JobNotFound, LookupError) and issubclass(
        redisq.RedisUnavailable, ConnectionError
    )


def test_importing_starts_nothing() -> None:
    import subprocess
    import sys

    code = "import threading, redisq, redisq.cli, redisq.demo; print(threading.active_count())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"
