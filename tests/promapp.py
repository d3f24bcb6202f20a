"""An app module for the Prometheus tests' worker processes, configured from the environment."""

from __future__ import annotations

import os
import time

from redisq import RedisQ

rq = RedisQ(
    os.environ["REDISQ_URL"], prefix=os.environ["PROM_PREFIX"], default_queue=os.environ["PROM_QUEUE"]
)


@rq.task(name="promapp.work")
def work(n: int) -> int:
    time.sleep(0.02)  # long enough that two worker processes both take some
    return n
