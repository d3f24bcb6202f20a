"""The FastAPI app that the dashboard's browser tests serve with a real uvicorn, configured by environment.

The admin router (and with it the dashboard) is mounted under a deeper prefix than usual, `/ops/queues`,
to prove the page uses relative URLs only. A `role` cookie says who the browser is: `admin` or `read`.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import Cookie, FastAPI

from redisq import Backoff, RedisQ, WorkerSettings, current_job
from redisq.admin.access import Access, QueueAccess
from redisq.fastapi import RedisQMiddleware, admin_router

from .dashboardroles import role

MOUNT = "/ops/queues"
QUEUE = os.environ["DASHBOARD_QUEUE"]
WORKER = WorkerSettings(
    concurrency=10, lease_s=3.0, sweep_every_s=0.5, heartbeat_every_s=0.5, shutdown_grace_s=2
)

rq = RedisQ(default_queue=QUEUE)  # REDISQ_URL and REDISQ_PREFIX come from the test


def auth(role_cookie: Annotated[str | None, Cookie(alias="role")] = None) -> Access | QueueAccess | None:
    return role(role_cookie)


@rq.task(name="dashboard.echo", queue=QUEUE, retries=0)
async def echo(value: Any) -> Any:
    return value


@rq.task(name="dashboard.fail", queue=QUEUE, retries=0)
async def fail(message: str) -> None:
    raise RuntimeError(message)


@rq.task(name="dashboard.flaky", queue=QUEUE, retries=0)
def flaky(flag: str) -> str:  # plain def: the worker runs it in a thread
    """Fails until the file `flag` exists: a test retries it from the page once it has created the file."""
    if not Path(flag).exists():
        raise RuntimeError(f"no flag file at {flag}")
    return "recovered"


@rq.task(name="dashboard.third_time", queue=QUEUE, retries=2, backoff=Backoff.fixed(0.1))
async def third_time() -> str:
    """Fails its first two attempts (each with a traceback of its own), succeeds at the third."""
    attempt = current_job.get().attempt
    if attempt < 3:
        raise RuntimeError(f"attempt {attempt} failed\nwith a second line")
    return "third time lucky"


@rq.task(name="dashboard.reports.rebuild_quarterly_revenue_summary", queue=QUEUE, retries=0)
def rebuild_quarterly_revenue_summary(until: str = "", error: str = "") -> None:
    """A long task name for the Workers and dead lists: runs until the file `until` exists (at most a
    minute), then fails with `error` if there is one."""
    deadline = time.monotonic() + 60
    while until and not Path(until).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if error:
        raise RuntimeError(error)


@rq.task(name="dashboard.gated", queue=QUEUE, retries=0, max_concurrency=1, limit_key=lambda until: "one")
def gated(until: str) -> None:
    """One at a time (a concurrency limit): each runs until the file `until` exists (at most a minute)."""
    deadline = time.monotonic() + 60
    while not Path(until).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@rq.task(name="dashboard.work", queue=QUEUE, retries=0)
async def work(steps: int, pause_s: float = 0.2) -> int:
    for step in range(steps):
        await rq.set_progress((step + 1) / steps, f"step {step + 1} of {steps}")
        await asyncio.sleep(pause_s)
    return steps


app = FastAPI()
app.add_middleware(RedisQMiddleware, redisq=rq, workers=1, worker_settings=WORKER)
app.include_router(admin_router(rq, auth=auth), prefix=MOUNT)
