"""streaq's worker and task, run as `python -m benchmarks.peers.streaq_tasks`.

`streaq run benchmarks.peers.streaq_tasks:worker` configures logging at INFO, where streaq logs two lines
per task, and has no option for another level; every system here runs at WARNING, so `main` does what
`streaq run` does (logging.config.dictConfig with streaq's own config, then `worker.run_sync()`) at WARNING.
"""

from __future__ import annotations

import logging.config
import os

from streaq import Worker
from streaq.utils import default_log_config

from . import body
from .base import QUEUE

# streaq's defaults (concurrency 16, prefetch = concurrency) but for the server and the queue name.
worker = Worker(redis_url=os.environ["BENCH_REDIS_URL"], queue_name=QUEUE)


@worker.task
async def noop(index: int, enqueued_at: float = 0.0) -> None:
    await body.run(index, enqueued_at)


def main() -> None:
    config = default_log_config(worker.tz, verbose=False)
    config["handlers"]["streaq.standard"]["level"] = "WARNING"
    config["loggers"]["streaq"]["level"] = "WARNING"
    logging.config.dictConfig(config)
    worker.run_sync()


if __name__ == "__main__":
    main()
