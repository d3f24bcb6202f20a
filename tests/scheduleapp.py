"""An app for the schedule tests' worker processes: `redisq worker tests.scheduleapp:app`.

It declares one schedule, `beat`, every SCHED_EVERY_S seconds (default 1) on the queue SCHED_QUEUE, with
keys under SCHED_PREFIX; REDISQ_URL names the server. Its task does nothing: the tests count the jobs
that each tick wrote, by the unique key every tick's job carries (`schedule:beat:<tick ms>`).
"""

from __future__ import annotations

import os
from datetime import timedelta

from redisq import RedisQ


def app() -> RedisQ:
    rq = RedisQ(prefix=os.environ["SCHED_PREFIX"], default_queue=os.environ["SCHED_QUEUE"])

    @rq.task(name="beat")
    def beat() -> None:
        return None

    rq.schedule(beat, every=timedelta(seconds=float(os.environ.get("SCHED_EVERY_S", "1"))), id="beat")
    return rq
