"""bullmq (PyPI, the Python port of BullMQ): its worker, run as `python -m benchmarks.peers.bullmq_tasks`.

bullmq has no worker CLI: its documentation starts a `Worker(name, processor, opts)` in an asyncio program
and closes it on a signal, which is what `main` does. `--concurrency` is the Worker option (default 1).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

from bullmq import Worker

from . import body
from .base import QUEUE


def connection() -> dict[str, Any]:
    return {"connection": os.environ["BENCH_REDIS_URL"]}


async def process(job: Any, token: str) -> None:
    await body.run(job.data["index"], job.data.get("enqueued_at", 0.0))


async def serve(concurrency: int | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    opts = connection() if concurrency is None else {**connection(), "concurrency": concurrency}
    worker = Worker(QUEUE, process, opts)
    await stop.wait()
    await worker.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers.bullmq_tasks")
    parser.add_argument("--concurrency", type=int, default=None, help="the Worker's (default: bullmq's, 1)")
    asyncio.run(serve(parser.parse_args().concurrency))


if __name__ == "__main__":
    main()
