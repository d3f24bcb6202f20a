"""Worker behaviour, in-process against the real server: every option and state transition."""

from __future__ import annotations

import asyncio
import dataclasses
import decimal
import itertools
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest

from redisq import Backoff, JobFailed, JobState, RedisQ, ResultTimeout, Worker, WorkerSettings, current_job
from redisq.core import context
from redisq.core.job import record_payload

from .conftest import FAST, running_worker

ONE = dataclasses.replace(FAST, concurrency=1)


async def test_priority_orders_jobs_within_a_queue(rq: RedisQ) -> None:
    order: list[str] = []

    @rq.task
    async def note(tag: str) -> None:
        order.append(tag)

    await note.with_options(priority=-5).enqueue("low")
    await note.enqueue("normal-1")
    await note.with_options(priority=10).enqueue("high")
    last = await note.enqueue("normal-2")
    async with running_worker(rq, ONE):
        await last.result(timeout=5)
    assert order == ["high", "normal-1", "normal-2", "low"]


async def test_queues_are_served_in_the_order_given(rq: RedisQ, queue: str) -> None:
    order: list[str] = []
    urgent = f"{queue}-urgent"

    @rq.task
    async def note(tag: str) -> None:
        order.append(tag)

    jobs = [await note.enqueue(f"bulk-{i}") for i in range(3)]
    jobs += [await note.with_options(queue=urgent).enqueue(f"urgent-{i}") for i in range(3)]
    async with running_worker(rq, ONE, queues=[urgent, queue]):
        for job in jobs:
            await job.result(timeout=5)
    assert order == ["urgent-0", "urgent-1", "urgent-2", "bulk-0", "bulk-1", "bulk-2"]


async def test_delayed_job_waits_for_its_time(rq: RedisQ) -> None:
    started: list[float] = []

    @rq.task
    async def stamp() -> None:
        started.append(time.time())

    async with running_worker(rq):
        enqueued = time.time()
        job = await stamp.with_options(delay_s=0.6).enqueue()
        assert (await job.info()).state is JobState.SCHEDULED
        await job.result(timeout=5)
    assert started[0] - enqueued >= 0.55


async def test_retries_with_backoff_then_success(rq: RedisQ, queue: str) -> None:
    attempts: list[tuple[int, float]] = []

    @rq.task(retries=3, backoff=Backoff.fixed(0.3))
    async def flaky() -> str:
        job = current_job.get()
        assert job is not None
        attempts.append((job.attempt, time.monotonic()))
        if job.attempt < 3:
            raise ConnectionError(f"boom {job.attempt}")
        return "ok"

    job = await flaky.enqueue()
    async with running_worker(rq):
        assert await job.result(timeout=10) == "ok"
    assert [a for a, _ in attempts] == [1, 2, 3]
    assert all(b[1] - a[1] >= 0.28 for a, b in itertools.pairwise(attempts))
    info = await job.info()
    assert (info.state, info.attempts) == (JobState.SUCCEEDED, 3)
    assert info.error is not None and info.error.type == "ConnectionError"  # the last failure is kept
    stats = await rq.stats(queue)
    assert (stats.succeeded, stats.failed, stats.counters["retried"], stats.dead) == (1, 2, 2, 0)


def test_exponential_backoff_grows_with_jitter_and_cap() -> None:
    b = Backoff.exponential(base_s=1, factor=2, cap_s=10)
    for attempt, full in ((1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)):
        delays = [b.delay_s(attempt) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays)
        assert max(delays) - min(delays) > full / 10  # jittered, not constant
    assert Backoff.exponential(base_s=1, jitter=False).delay_s(3) == 4
    assert Backoff.fixed(2.5).delay_s(7) == 2.5


async def test_last_failure_sends_the_job_to_the_dead_letters(rq: RedisQ, queue: str) -> None:
    @rq.task(retries=1, backoff=Backoff.fixed(0.05))
    def doomed(n: int) -> None:
        raise ValueError(f"cannot parse {n}")

    job = await doomed.enqueue(7)
    async with running_worker(rq):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout=10)
    assert failed.value.state is JobState.DEAD
    assert failed.value.error is not None and failed.value.error.message == "cannot parse 7"
    info = await job.info()
    assert (info.state, info.attempts) == (JobState.DEAD, 2)
    assert info.error is not None and "ValueError: cannot parse 7" in info.error.traceback
    dead = await rq.jobs(queue, JobState.DEAD)
    assert [d.id for d in dead] == [job.id]
    stats = await rq.stats(queue)
    assert (stats.dead, stats.failed, stats.counters["dead"]) == (1, 2, 1)


async def test_async_timeout_cancels_the_job_and_frees_its_slot(rq: RedisQ) -> None:
    cancelled = asyncio.Event()

    @rq.task(timeout=0.3, retries=0)
    async def hang() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    @rq.task
    async def quick() -> str:
        return "done"

    stuck, after = await hang.enqueue(), await quick.enqueue()
    async with running_worker(rq, ONE):
        assert await after.result(timeout=5) == "done"
        with pytest.raises(JobFailed) as failed:
            await stuck.result(timeout=5)
    assert cancelled.is_set()
    assert failed.value.error is not None and failed.value.error.type == "JobTimeout"


async def test_sync_timeout_writes_off_the_thread_and_frees_the_slot(rq: RedisQ) -> None:
    release = threading.Event()

    @rq.task(timeout=0.3, retries=0)
    def hang() -> None:
        release.wait(30)

    @rq.task
    def quick() -> str:
        return "done"

    stuck, after = await hang.enqueue(), await quick.enqueue()
    try:
        async with running_worker(rq, ONE):
            with pytest.raises(JobFailed) as failed:
                await stuck.result(timeout=5)
            # concurrency 1 and the stuck thread still inside `hang`: the slot was freed all the same
            assert await after.result(timeout=5) == "done"
    finally:
        release.set()
    assert failed.value.error is not None and failed.value.error.type == "JobTimeout"


async def test_ttl_expires_a_job_that_was_not_started_in_time(rq: RedisQ, queue: str) -> None:
    ran: list[int] = []

    @rq.task(ttl=0.5)  # room for a pause of the test process (a GC, a loaded machine) before it starts
    async def perishable(i: int) -> None:
        ran.append(i)

    old = await perishable.enqueue(1)
    await asyncio.sleep(0.6)
    async with running_worker(rq):
        with pytest.raises(JobFailed) as failed:
            await old.result(timeout=5)
        # Enqueued once the worker has fetched (it expired the old one): a slow start (its preflight reads
        # every Cluster master) must not expire this one too.
        fresh = await perishable.enqueue(2)
        await fresh.result(timeout=5)
    assert failed.value.state is JobState.EXPIRED
    assert ran == [2]
    assert (await rq.stats(queue)).counters["expired"] == 1


async def test_result_waiters_are_woken_not_polling(rq: RedisQ) -> None:
    @rq.task
    async def slow() -> str:
        await asyncio.sleep(1.0)
        return "late"

    job = await slow.enqueue()
    async with running_worker(rq):
        began = time.monotonic()
        waiters = await asyncio.gather(*(job.result(timeout=10) for _ in range(3)))
        waited = time.monotonic() - began
    assert waiters == ["late"] * 3
    # The waiters re-read the job only every 5 s as a safety net: arriving well before that proves the
    # job's end woke them.
    assert waited < 3.0
    with pytest.raises(ResultTimeout):
        await (await slow.enqueue()).result(timeout=0.2)


async def test_sync_result_from_a_thread(rq: RedisQ, rq_sync: RedisQ) -> None:
    @rq.task(name="shared.double")
    async def double(n: int) -> int:
        await asyncio.sleep(0.2)
        return 2 * n

    job = await double.enqueue(21)
    async with running_worker(rq):
        value = await asyncio.to_thread(rq_sync.job(job.id).result_sync, 5)
    assert value == 42


async def test_request_id_and_trace_context_travel_into_the_job(rq: RedisQ) -> None:
    seen: dict[str, object] = {}

    @rq.task
    def inspect_context() -> None:
        job = current_job.get()
        seen.update(
            request_id=context.request_id.get(),
            traceparent=context.traceparent.get(),
            job=job.id if job else None,
        )

    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    token_r, token_t = context.request_id.set("req-123"), context.traceparent.set(parent)
    try:
        job = await inspect_context.enqueue()
    finally:
        context.request_id.reset(token_r)
        context.traceparent.reset(token_t)
    assert (await job.info()).meta == {"request_id": "req-123", "traceparent": parent}
    async with running_worker(rq):
        await job.result(timeout=5)
    assert seen == {"request_id": "req-123", "traceparent": parent, "job": job.id}


async def test_arguments_come_back_as_the_declared_types(rq: RedisQ) -> None:
    @rq.task
    def typed(
        when: datetime,
        who: uuid.UUID,
        amount: decimal.Decimal,
        blob: bytes,
        tags: set[str],
        maybe: uuid.UUID | None = None,
        plain: object = None,
    ) -> list[str]:
        return [type(v).__name__ for v in (when, who, amount, blob, tags, maybe, plain)]

    when = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc)
    job = await typed.enqueue(
        when, uuid.uuid4(), decimal.Decimal("10.25"), b"\x00\xff", {"a"}, maybe=uuid.uuid4(), plain={"k": [1]}
    )
    async with running_worker(rq):
        assert await job.result(timeout=5) == ["datetime", "UUID", "Decimal", "bytes", "set", "UUID", "dict"]


async def test_arguments_that_do_not_fit_the_signature_go_dead_unexecuted(rq: RedisQ) -> None:
    ran: list[int] = []

    @rq.task(retries=5)
    async def one_arg(n: int) -> None:
        ran.append(n)

    job = await one_arg.enqueue(1, 2, 3)  # wrong arity: it can never succeed, so no retries are spent
    async with running_worker(rq):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout=5)
    assert failed.value.error is not None and failed.value.error.type == "BadArguments"
    assert ran == [] and (await job.info()).attempts == 1


async def test_result_that_cannot_be_encoded_is_a_dead_job(rq: RedisQ) -> None:
    @rq.task(retries=3)
    async def returns_object() -> object:
        return object()

    job = await returns_object.enqueue()
    async with running_worker(rq):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout=5)
    assert failed.value.error is not None and failed.value.error.type == "SerializationError"


async def test_signed_payloads_are_verified(redis_url: str, prefix: str, queue: str) -> None:
    ran: list[int] = []
    async with RedisQ(redis_url, prefix=prefix, default_queue=queue, signing_key=b"s3cret") as rq:

        @rq.task
        async def guarded(n: int) -> None:
            ran.append(n)

        good, forged = await guarded.enqueue(1), await guarded.enqueue(2)
        client = rq.backend().client
        key = rq.queue_keys(queue).job(forged.uid)
        payload = record_payload(await client.hgetall(key))  # whole or in pieces (issue 15)
        await client.hset(key, "payload", payload.replace(b"[2]", b"[666]"))  # `payload` wins over pieces
        async with running_worker(rq):
            await good.result(timeout=5)
            with pytest.raises(JobFailed) as failed:
                await forged.result(timeout=5)
    assert failed.value.error is not None and failed.value.error.type == "BadSignature"
    assert ran == [1]


async def test_concurrency_limits_jobs_at_once(rq: RedisQ) -> None:
    running, peak = 0, 0

    @rq.task
    async def busy() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1

    jobs = await rq.enqueue_many([busy.call() for _ in range(40)])
    async with running_worker(rq, dataclasses.replace(FAST, concurrency=4)):
        for job in jobs:
            await job.result(timeout=10)
    assert peak == 4


async def test_graceful_stop_of_an_embedded_worker_finishes_running_jobs(rq: RedisQ, queue: str) -> None:
    started = asyncio.Event()

    @rq.task
    async def short() -> str:
        started.set()
        await asyncio.sleep(0.3)
        return "finished"

    job = await short.enqueue()
    async with running_worker(rq):
        await started.wait()
    assert (await job.info()).state is JobState.SUCCEEDED
    stats = await rq.stats(queue)
    assert (stats.active, stats.succeeded) == (0, 1)


async def test_a_sync_job_raising_system_exit_fails_without_stopping_the_worker(rq: RedisQ) -> None:
    # (asyncio itself re-raises these two out of the event loop when an `async def` job raises them.)
    @rq.task(retries=0)
    def quits() -> None:
        raise SystemExit(3)

    @rq.task(retries=0)
    def interrupts() -> None:
        raise KeyboardInterrupt

    @rq.task
    async def after() -> str:
        return "still serving"

    jobs = [await quits.enqueue(), await interrupts.enqueue()]
    async with running_worker(rq, ONE):
        for job, kind in zip(jobs, ("SystemExit", "KeyboardInterrupt"), strict=True):
            with pytest.raises(JobFailed) as failed:
                await job.result(timeout=5)
            assert failed.value.error is not None and failed.value.error.type == kind
        assert await (await after.enqueue()).result(timeout=5) == "still serving"


async def test_a_stop_during_a_fetch_does_not_wait_out_the_idle_block(rq: RedisQ) -> None:
    """stop() that lands while a fetch is in flight used to be followed by a full idle wait (5 s here)."""

    @rq.task
    async def noop() -> None: ...

    slowest = 0.0
    for i in range(20):
        worker = Worker(rq, settings=WorkerSettings(max_idle_block_s=5.0))
        run = asyncio.create_task(worker.run())
        await asyncio.sleep(i * 0.002)  # land the stop at different points of the first fetch
        started = time.perf_counter()
        worker.stop()
        await asyncio.wait_for(run, 10)
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 2.5, f"a stop took {slowest:.2f}s"  # milliseconds when idle; margin for a busy machine
