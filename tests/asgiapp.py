"""The app that tests serve with a real uvicorn (`uvicorn tests.asgiapp:app`), configured by environment."""

from __future__ import annotations

import asyncio
import os

from fastapi import FastAPI

from redisq import RedisQ, WorkerSettings, current_job
from redisq.fastapi import RedisQMiddleware, health_router

rq = RedisQ()  # REDISQ_URL and REDISQ_PREFIX come from the test


@rq.task(name="asgiapp.record")
async def record(n: int) -> int:
    """Counts its runs per job id, so a test can see any job that ran twice."""
    job = current_job.get()
    assert job is not None
    await rq.backend().client.hincrby(f"{rq.settings.prefix}:runs", job.id, 1)
    return n


@rq.task(name="asgiapp.nap")
async def nap(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


app = FastAPI()
app.add_middleware(
    RedisQMiddleware,
    redisq=rq,
    workers=1,
    worker_settings=WorkerSettings(
        concurrency=4, lease_s=3, shutdown_grace_s=float(os.environ.get("GRACE", "5"))
    ),
)
app.include_router(health_router(rq), prefix="/health")


@app.post("/record/{n}", status_code=202)
async def enqueue_record(n: int) -> dict[str, str]:
    job = await record.enqueue(n)
    return {"job": job.id, "pid": str(os.getpid())}


@app.post("/nap/{seconds}", status_code=202)
async def enqueue_nap(seconds: float) -> dict[str, str]:
    return {"job": (await nap.enqueue(seconds)).id}
