"""An app module for `redisq worker --log-format json` tests (configured from REDISQ_* variables): a job
that logs and succeeds, one that logs its exception and dies, one that fails once and then succeeds."""

from __future__ import annotations

import logging

from redisq import Backoff, RedisQ, Task, current_job

log = logging.getLogger("tests.logapp")


async def ok(n: int) -> int:
    log.info("working on %d", n)
    return n


async def broken() -> None:
    try:
        raise RuntimeError("broken on purpose")
    except RuntimeError:
        log.exception("could not do it")
        raise


def flaky() -> str:  # a `def` task: its thread's lines carry the job's fields too
    job = current_job.get()
    assert job is not None
    log.info("attempt %d", job.attempt)
    if job.attempt == 1:
        raise ValueError("the first attempt fails")
    return "fine"


def register(rq: RedisQ) -> dict[str, Task[..., object]]:
    """The tasks on `rq`: the worker's client, or the test's that enqueues them."""
    return {
        "ok": rq.task(name="logs.ok")(ok),
        "broken": rq.task(name="logs.broken", retries=0)(broken),
        "flaky": rq.task(name="logs.flaky", retries=1, backoff=Backoff.fixed(0))(flaky),
    }


rq = RedisQ()
register(rq)
