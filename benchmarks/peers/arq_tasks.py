"""arq's worker-side module: `arq benchmarks.peers.arq_tasks.WorkerSettings`.

arq 0.28 requires redis-py < 6, which the other peers' latest releases exclude (kombu[redis] >= 6.4,
taskiq-redis >= 8): arq runs from an interpreter of its own (BENCH_PYTHON_ARQ, set by `nox -s bench`).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from arq.connections import RedisSettings

from . import body

REDIS = RedisSettings.from_dsn(os.environ["BENCH_REDIS_URL"])


async def noop(ctx: dict[str, Any], index: int, enqueued_at: float = 0.0) -> None:
    await body.run(index, enqueued_at)


class WorkerSettings:
    """arq's defaults (max_jobs 10, poll_delay 0.5 s) but for the functions and the server."""

    functions: ClassVar[list[Any]] = [noop]
    redis_settings = REDIS


# Tuned (arq reads a settings class's own attributes, not inherited ones): max_jobs also raises
# queue_read_limit, the number of jobs taken per poll, from 100 to 500.
class MaxJobs100:
    functions: ClassVar[list[Any]] = [noop]
    redis_settings = REDIS
    max_jobs = 100


class PollDelay10ms:
    functions: ClassVar[list[Any]] = [noop]
    redis_settings = REDIS
    poll_delay = 0.01


# For `--custom-log-dict`: arq logs every job at INFO by default; every system here runs at WARNING.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "level": "WARNING"}},
    "loggers": {"arq": {"handlers": ["stderr"], "level": "WARNING"}},
}
