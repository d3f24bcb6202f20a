"""Worker hooks and job middleware (issue 12), on real workers."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from datetime import datetime
from typing import Any

import pytest

from redisq import (
    HookFailed,
    JobContext,
    JobFailed,
    JobMiddleware,
    JobState,
    RedisQ,
    RegistryFrozen,
    Worker,
    WorkerContext,
    current_job,
)

from .conftest import FAST, running_worker

pytestmark = pytest.mark.timeout(60)


class Pool:
    """Stands for a database pool: opened once per worker, shared by its jobs."""

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.closed = False
        self.queries = 0

    def query(self) -> str:
        assert not self.closed
        self.queries += 1
        return self.worker_id


def pool_of_this_worker() -> Pool:
    job = current_job.get()
    assert job is not None and job.worker is not None
    pool = job.worker.state["db"]
    assert isinstance(pool, Pool)
    return pool


async def test_start_and_stop_hooks_open_a_resource_once_per_worker_for_its_tasks(rq: RedisQ) -> None:
    opened: list[Pool] = []

    @rq.on_worker_start
    async def open_pool(worker: WorkerContext) -> None:
        await asyncio.sleep(0)
        worker.state["db"] = pool = Pool(worker.id)
        opened.append(pool)

    @rq.on_worker_stop
    def close_pool(worker: WorkerContext) -> None:
        worker.state["db"].closed = True

    @rq.task
    async def lookup_async() -> str:
        return pool_of_this_worker().query()

    @rq.task
    def lookup_sync() -> str:
        return pool_of_this_worker().query()

    async with running_worker(rq) as one, running_worker(rq) as two:
        jobs = [await lookup_async.enqueue() for _ in range(10)] + [
            await lookup_sync.enqueue() for _ in range(10)
        ]
        served_by = {await job.result(timeout=5) for job in jobs}
        assert len(opened) == 2 and not any(p.closed for p in opened)
    assert served_by <= {one.id, two.id}
    assert sorted(p.worker_id for p in opened) == sorted([one.id, two.id])
    assert all(p.closed for p in opened)
    assert sum(p.queries for p in opened) == 20


async def test_a_start_hook_that_raises_stops_the_worker_before_any_job(rq: RedisQ) -> None:
    stopped: list[str] = []

    @rq.on_worker_start
    def open_pool(worker: WorkerContext) -> None:
        raise ConnectionRefusedError("database is down")

    @rq.on_worker_stop
    def close_pool(worker: WorkerContext) -> None:
        stopped.append(worker.id)

    @rq.task
    async def noop() -> None:
        pass

    job = await noop.enqueue()
    worker = Worker(rq, settings=FAST)
    with pytest.raises(HookFailed, match="database is down"):
        await asyncio.wait_for(worker.run(), 10)
    assert stopped == [worker.id]  # stop hooks close what was opened before the failure
    assert (await job.info()).state is JobState.QUEUED


class Recorder(JobMiddleware):
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []  # (event, task, detail)

    def _add(self, event: str, job: JobContext, detail: str = "") -> None:
        self.events.append((event, job.task.rpartition(".")[2], detail))

    def before(self, job: JobContext) -> None:
        self._add("before", job)

    async def after(self, job: JobContext, result: Any) -> None:
        self._add("after", job, repr(result))

    def on_failure(self, job: JobContext, exc: BaseException) -> None:
        self._add("on_failure", job, type(exc).__name__)

    def on_retry(self, job: JobContext, exc: BaseException, retry_at: datetime) -> None:
        assert retry_at.tzinfo is not None
        self._add("on_retry", job, type(exc).__name__)

    async def on_dead(self, job: JobContext, reason: BaseException | str) -> None:
        self._add("on_dead", job, reason if isinstance(reason, str) else type(reason).__name__)

    def on_abort(self, job: JobContext) -> None:
        self._add("on_abort", job)


class Broken(JobMiddleware):
    def before(self, job: JobContext) -> None:
        raise RuntimeError("middleware bug")

    def after(self, job: JobContext, result: Any) -> None:
        raise RuntimeError("middleware bug")


async def test_middleware_sees_every_outcome(rq: RedisQ, redis_url: str, prefix: str, queue: str) -> None:
    recorder = Recorder()
    rq.add_middleware(recorder)
    started = asyncio.Event()

    @rq.task(retries=1)
    async def double(n: int) -> int:
        job = current_job.get()
        assert job is not None
        if n < 0 and job.attempt == 1:
            raise ArithmeticError("negative")
        if n == 0:
            raise ZeroDivisionError("zero")
        return 2 * n

    @rq.task(timeout=0.2, retries=0)
    async def hang() -> None:
        await asyncio.sleep(5)

    @rq.task
    async def endless() -> None:
        started.set()
        await asyncio.sleep(30)

    # A client of another deployment enqueues what this worker cannot run.
    other = RedisQ(redis_url, prefix=prefix, default_queue=queue)
    try:

        @other.task(name="ghost")
        def ghost() -> None: ...

        @other.task(name=double.name)
        def double_elsewhere(n: int, m: int) -> None: ...

        unknown = await ghost.enqueue()
        bad_args = await double_elsewhere.enqueue(1, 2)
    finally:
        await other.aclose()
    async with running_worker(rq, dataclasses.replace(FAST, concurrency=1)):
        for job_id in (unknown.id, bad_args.id):
            with pytest.raises(JobFailed):
                await rq.job(job_id).result(timeout=5)
        assert await (await double.enqueue(2)).result(timeout=5) == 4
        assert await (await double.enqueue(-1)).result(timeout=5) == -2
        with pytest.raises(JobFailed):
            await (await double.enqueue(0)).result(timeout=5)
        with pytest.raises(JobFailed):
            await (await hang.enqueue()).result(timeout=5)
        job = await endless.enqueue()
        await asyncio.wait_for(started.wait(), 5)
        await job.abort()
        with pytest.raises(JobFailed):
            await job.result(timeout=5)
    assert recorder.events == [
        ("on_dead", "ghost", "UnknownTask: no task registered as 'ghost' in this worker"),
        ("on_dead", "double", recorder.events[1][2]),
        ("before", "double", ""),
        ("after", "double", "4"),
        ("before", "double", ""),
        ("on_failure", "double", "ArithmeticError"),
        ("on_retry", "double", "ArithmeticError"),
        ("before", "double", ""),
        ("after", "double", "-2"),
        ("before", "double", ""),
        ("on_failure", "double", "ZeroDivisionError"),
        ("on_retry", "double", "ZeroDivisionError"),
        ("before", "double", ""),
        ("on_failure", "double", "ZeroDivisionError"),
        ("on_dead", "double", "ZeroDivisionError"),
        ("before", "hang", ""),
        ("on_failure", "hang", "JobTimeout"),
        ("on_dead", "hang", "JobTimeout"),
        ("before", "endless", ""),
        ("on_abort", "endless", ""),
    ]
    assert recorder.events[1][2].startswith("BadArguments:")


async def test_a_raising_middleware_or_stop_hook_is_logged_and_changes_nothing(
    rq: RedisQ, caplog: pytest.LogCaptureFixture
) -> None:
    rq.add_middleware(Broken())
    closed = threading.Event()

    @rq.on_worker_stop
    def close_first(worker: WorkerContext) -> None:
        closed.set()

    @rq.on_worker_stop
    async def close_second(worker: WorkerContext) -> None:  # runs first (reverse order), and raises
        raise OSError("cannot close")

    @rq.task
    async def answer() -> int:
        return 42

    async with running_worker(rq) as worker:
        results = [await (await answer.enqueue()).result(timeout=5) for _ in range(3)]
    assert results == [42, 42, 42]
    assert worker.processed == 3
    assert closed.is_set()
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert sum("middleware before" in m for m in logged) == 3
    assert sum("middleware after" in m for m in logged) == 3
    assert any("worker stop hook" in m for m in logged)


async def test_hooks_cannot_be_added_once_a_worker_started(rq: RedisQ) -> None:
    @rq.task
    async def noop() -> None:
        pass

    async with running_worker(rq):
        with pytest.raises(RegistryFrozen):
            rq.add_middleware(Recorder())
        with pytest.raises(RegistryFrozen):
            rq.on_worker_start(lambda worker: None)
    with pytest.raises(TypeError):
        RedisQ("redis://unused").add_middleware(object())  # type: ignore[arg-type]


async def test_the_flask_extension_runs_hooks_in_the_apps_context(redis_url: str, prefix: str) -> None:
    from flask import Flask, current_app

    from redisq.flask import RedisQ as FlaskRedisQ

    extension = FlaskRedisQ(health_url=None)
    recorder = Recorder()
    extension.add_middleware(recorder)

    @extension.on_worker_start
    def open_pool(worker: WorkerContext) -> None:
        worker.state["db"] = Pool(current_app.name)  # the app's context: its config, its extensions

    @extension.on_worker_stop
    async def close_pool(worker: WorkerContext) -> None:
        worker.state["db"].closed = current_app.name == "hooked-app"

    @extension.task(name="hooked.lookup")
    def lookup() -> str:
        return pool_of_this_worker().query()

    app = Flask("hooked-app")
    app.config.update(REDISQ_URL=redis_url, REDISQ_PREFIX=prefix)
    extension.init_app(app)
    client: RedisQ = app.extensions["redisq"].client
    try:
        with app.app_context():
            job = lookup.delay()
        async with running_worker(client) as worker:
            assert await job.result(timeout=5) == "hooked-app"
        assert worker.context.state["db"].closed is True
        assert recorder.events == [("before", "lookup", ""), ("after", "lookup", "'hooked-app'")]
    finally:
        await client.aclose()
