"""`--burst` (issue 12): the worker drains its queues and exits 0; jobs due later do not keep it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redisq import JobState, RedisQ, Worker

from .conftest import FAST, running_worker

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(90)


def test_redisq_worker_burst_runs_every_job_then_exits_0(redis_url: str, prefix: str, queue: str) -> None:
    rq = RedisQ(redis_url, prefix=prefix, default_queue=queue)
    try:

        @rq.task(name="burst.square")
        async def square(n: int) -> int: ...

        @rq.task(name="burst.cube")
        def cube(n: int) -> int: ...

        jobs = [square.delay(n) for n in range(30)] + [cube.delay(n) for n in range(30)]
        later = square.with_options(delay_s=3600).delay(7)
        env = {
            **os.environ,
            "REDISQ_URL": redis_url,
            "REDISQ_PREFIX": prefix,
            "REDISQ_DEFAULT_QUEUE": queue,
            "PYTHONPATH": str(ROOT),
        }
        command = ["worker", "tests.burstapp:rq", "--burst", "--concurrency", "4"]
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", "from redisq.cli import run; run()", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        took = time.monotonic() - started
        assert done.returncode == 0, done.stderr
        assert "queues are drained" in done.stderr
        assert [job.result_sync(timeout=1) for job in jobs] == [n * n for n in range(30)] + [
            n**3 for n in range(30)
        ]
        assert later.info_sync().state is JobState.SCHEDULED  # due in an hour: it did not keep the worker
        assert took < 30
    finally:
        rq.close()


def test_flask_redisq_worker_burst_exits_0_when_drained(redis_url: str, prefix: str) -> None:
    rq = RedisQ(redis_url, prefix=prefix)
    try:

        @rq.task(name="tests.flaskapp.build_report", queue="reports")
        def build_report(report_id: int) -> None: ...

        jobs = [build_report.delay(n) for n in range(5)]
        env = {**os.environ, "REDISQ_URL": redis_url, "REDISQ_PREFIX": prefix, "PYTHONPATH": str(ROOT)}
        flask = [sys.executable, "-m", "flask", "--app", "tests.flaskapp:app", "redisq", "worker", "--burst"]
        done = subprocess.run(flask, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert [job.result_sync(timeout=1)["report"] for job in jobs] == list(range(5))
    finally:
        rq.close()


async def test_a_burst_worker_waits_for_jobs_due_now_and_running_elsewhere(rq: RedisQ) -> None:
    started = asyncio.Event()

    @rq.task
    async def nap(s: float) -> float:
        started.set()
        await asyncio.sleep(s)
        return s

    # One worker runs a long job; a burst worker on the same queue must not leave while it runs (its
    # failure could come back due at once), and a job due in a moment keeps it too.
    long = await nap.enqueue(1.5)
    async with running_worker(rq, FAST):
        await asyncio.wait_for(started.wait(), 5)
        soon = await nap.with_options(delay_s=0.5).enqueue(0.0)
        burst = asyncio.create_task(Worker(rq, settings=FAST, burst=True).run())
        await asyncio.sleep(1.0)
        assert not burst.done()  # the long job still runs on the other worker
        await asyncio.wait_for(burst, 10)
    assert (await long.info()).state is JobState.SUCCEEDED
    assert (await soon.info()).state is JobState.SUCCEEDED
