"""arq: `await pool.enqueue_job("noop", ...)`, no bulk API, workers by the `arq` CLI."""

from __future__ import annotations

from typing import Any

from .base import Adapter, AsyncProducer, WorkerRun, cli


class _Async:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def enqueue(self, index: int, enqueued_at: float = 0.0) -> None:
        await self.pool.enqueue_job("noop", index, enqueued_at)

    async def aclose(self) -> None:
        await self.pool.aclose()


class ArqAdapter(Adapter):
    system = "arq"
    distribution = "arq"
    async_api = "await pool.enqueue_job(...)"
    no_bulk_reason = "no bulk API (one `enqueue_job` per job)"

    async def async_producer(self) -> AsyncProducer:
        from arq import create_pool

        from .arq_tasks import REDIS

        return _Async(await create_pool(REDIS))

    def _command(self, settings: str) -> list[str]:
        return [
            cli("arq"),
            f"benchmarks.peers.arq_tasks.{settings}",
            "--custom-log-dict",
            "benchmarks.peers.arq_tasks.LOGGING",
        ]

    def workers(self, processes: int) -> WorkerRun:
        label = f"{processes} `arq` process(es) (max_jobs 10, poll_delay 0.5 s)"
        return WorkerRun(label, [self._command("WorkerSettings") for _ in range(processes)])

    def tuned(self) -> list[WorkerRun]:
        # arq takes at most queue_read_limit (default max(5 x max_jobs, 100)) jobs per poll and then sleeps
        # poll_delay (0.5 s): at defaults that is about 200 jobs/s per process, and the latency is the sleep.
        return [
            WorkerRun(
                "1 `arq` process (max_jobs 100)", [self._command("MaxJobs100")], variant="max_jobs 100"
            ),
            WorkerRun(
                "1 `arq` process (poll_delay 0.01 s)",
                [self._command("PollDelay10ms")],
                variant="poll_delay 0.01",
                latency=True,
            ),
        ]


ADAPTER = ArqAdapter
