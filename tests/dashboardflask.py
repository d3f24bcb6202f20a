"""The Flask app that the dashboard's browser tests serve with gunicorn; `flask redisq worker` runs its jobs.

The same tasks, mount and `role` cookie as `dashboardapp.py`, the FastAPI twin.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from flask import Flask, Request

from redisq import Backoff, current_job
from redisq.admin.access import Access, QueueAccess
from redisq.flask import RedisQ

from .dashboardroles import role

MOUNT = "/ops/queues"
QUEUE = os.environ["DASHBOARD_QUEUE"]

redisq = RedisQ()


def auth(request: Request) -> Access | QueueAccess | None:
    return role(request.cookies.get("role"))


@redisq.task(QUEUE, name="dashboard.echo", retries=0)
def echo(value: Any) -> Any:
    return value


@redisq.task(QUEUE, name="dashboard.fail", retries=0)
def fail(message: str) -> None:
    raise RuntimeError(message)


@redisq.task(QUEUE, name="dashboard.flaky", retries=0)
def flaky(flag: str) -> str:
    if not Path(flag).exists():
        raise RuntimeError(f"no flag file at {flag}")
    return "recovered"


@redisq.task(QUEUE, name="dashboard.third_time", retries=2, backoff=Backoff.fixed(0.1))
def third_time() -> str:
    """Fails its first two attempts (each with a traceback of its own), succeeds at the third."""
    job = current_job.get()
    attempt = job.attempt if job is not None else 1
    if attempt < 3:
        raise RuntimeError(f"attempt {attempt} failed\nwith a second line")
    return "third time lucky"


@redisq.task(QUEUE, name="dashboard.reports.rebuild_quarterly_revenue_summary", retries=0)
def rebuild_quarterly_revenue_summary(until: str = "", error: str = "") -> None:
    deadline = time.monotonic() + 60
    while until and not Path(until).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if error:
        raise RuntimeError(error)


@redisq.task(QUEUE, name="dashboard.gated", retries=0, max_concurrency=1, limit_key=lambda until: "one")
def gated(until: str) -> None:
    """One at a time (a concurrency limit): each runs until the file `until` exists (at most a minute)."""
    deadline = time.monotonic() + 60
    while not Path(until).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@redisq.task(QUEUE, name="dashboard.work", retries=0)
def work(steps: int, pause_s: float = 0.2) -> int:
    job = current_job.get()
    for step in range(steps):
        if job is not None:
            job.raise_if_aborted()  # a plain def job stops at its next step when aborted (issue 12)
        redisq.client.set_progress_sync((step + 1) / steps, f"step {step + 1} of {steps}")
        time.sleep(pause_s)
    return steps


app = Flask("dashboard-flask")
app.config.update(
    REDISQ_URL=os.environ.get("REDISQ_URL"),
    REDISQ_PREFIX=os.environ.get("REDISQ_PREFIX", "redisq"),
    REDISQ_DEFAULT_QUEUE=QUEUE,
    REDISQ_QUEUES=QUEUE,
)
redisq.init_app(app)
app.register_blueprint(redisq.admin_blueprint(auth=auth), url_prefix=MOUNT)
