"""redisq: a task queue on Redis for web apps.

rq = RedisQ()                     # REDISQ_URL, else an embedded local Redis

@rq.task(queue="emails", retries=5, timeout=30)
async def send_welcome(user_id: int) -> str: ...

job = await send_welcome.enqueue(42)      # or send_welcome.delay(42) from sync code
print(await job.result(timeout=10))
"""

from .core.client import RedisQ
from .core.config import Settings, WorkerSettings
from .core.context import JobContext, LogContext, WorkerContext, current_job
from .core.errors import (
    ConcurrentUpdate,
    ConfigurationError,
    CorruptData,
    EmbeddedServerError,
    HookFailed,
    InvalidArguments,
    InvalidJobId,
    JobAborted,
    JobFailed,
    JobNotFound,
    JobTimeout,
    MissingDependency,
    PayloadTooLarge,
    RedisPermissionDenied,
    RedisQError,
    RedisUnavailable,
    RegistryFrozen,
    ResultTimeout,
    Retry,
    ScheduleNotFound,
    SerializationError,
    TaskNotFound,
    UnsupportedRedis,
    WorkflowNotFound,
    WriteNotReplicated,
)
from .core.health import HealthProblem, HealthReport, HealthThresholds, QueueHealth
from .core.hooks import JobMiddleware
from .core.job import JobError, JobInfo, JobState
from .core.jobs import Job
from .core.limits import Limit, RateLimit, RateLimited
from .core.schedules import Schedule, ScheduleInfo
from .core.stats import QueueStats, WorkerInfo
from .core.task import Backoff, BoundTask, Dedupe, JobSpec, Task, TaskOptions
from .core.worker import Worker
from .core.workflow import Dependency, Workflow, chain, chord, group, step

__version__ = "0.1.0"

__all__ = [
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
