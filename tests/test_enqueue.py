"""Enqueue: states, per-call options, bulk, idempotency keys, and bad input that writes nothing."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from redisq import (
    ConfigurationError,
    InvalidJobId,
    JobNotFound,
    JobState,
    PayloadTooLarge,
    RedisQ,
    RegistryFrozen,
    SerializationError,
    TaskNotFound,
)

from .conftest import running_worker


async def count_keys(rq: RedisQ) -> int:
    client = rq.backend().client
    return len([k async for k in client.scan_iter(match=f"{rq.settings.prefix}:*", count=1000)])


async def test_enqueue_records_a_queued_job(rq: RedisQ, queue: str) -> None:
    @rq.task(retries=4, priority=7)
    async def hello(name: str) -> str:
        return f"hello {name}"

    before = time.time()
    job = await hello.enqueue("ada")
    assert job.created
    assert job.queue == queue and job.id.startswith(f"{queue}:")
    info = await job.info()
    assert info.state is JobState.QUEUED
    assert info.task == hello.name
    assert (info.args, info.kwargs) == (["ada"], {})
    assert (info.attempts, info.max_attempts, info.priority) == (0, 5, 7)
    assert info.enqueued_at is not None and info.enqueued_at.timestamp() >= before - 1
    assert (await rq.stats(queue)).queued == 1


def test_sync_delay_and_sync_result(rq_sync: RedisQ, queue: str) -> None:
    @rq_sync.task
    def double(n: int) -> int:
        return 2 * n

    job = double.delay(21)
    assert job.info_sync().state is JobState.QUEUED
    assert rq_sync.stats_sync(queue).queued == 1
    assert job.cancel_sync()
    assert not job.cancel_sync()
    assert job.info_sync().state is JobState.CANCELLED


async def test_delay_and_eta_schedule_the_job(rq: RedisQ, queue: str) -> None:
    @rq.task
    async def later() -> None:
        return None

    delayed = await later.with_options(delay_s=30).enqueue()
    eta = datetime.now(timezone.utc) + timedelta(minutes=5)
    at_eta = await later.with_options(eta=eta).enqueue()
    info = await delayed.info()
    assert info.state is JobState.SCHEDULED
    assert info.due_at is not None and 29 <= (info.due_at.timestamp() - time.time()) <= 31
    eta_info = await at_eta.info()
    assert eta_info.due_at is not None and abs(eta_info.due_at.timestamp() - eta.timestamp()) < 0.01
    stats = await rq.stats(queue)
    assert (stats.queued, stats.scheduled) == (0, 2)


async def test_per_call_overrides(rq: RedisQ, queue: str) -> None:
    @rq.task(priority=1, retries=1)
    async def job() -> None:
        return None

    other = f"{queue}-other"
    j = await job.with_options(queue=other, priority=-3, retries=9).enqueue()
    info = await j.info()
    assert (j.queue, info.priority, info.max_attempts) == (other, -3, 10)


async def test_bulk_enqueue_spans_queues_in_one_call(rq: RedisQ, queue: str) -> None:
    @rq.task
    async def a(i: int) -> int:
        return i

    other = f"{queue}-b"
    specs = [a.call(i) if i % 2 else a.with_options(queue=other).call(i) for i in range(100)]
    jobs = await rq.enqueue_many(specs)
    assert len(jobs) == 100 and len({j.id for j in jobs}) == 100
    assert [j.queue for j in jobs[:4]] == [other, queue, other, queue]
    assert [(await j.info()).args for j in jobs[:3]] == [[0], [1], [2]]
    assert (await rq.stats(queue)).queued == 50
    assert (await rq.stats(other)).queued == 50
    assert set(await rq.known_queues()) == {queue, other}


async def test_unique_key_returns_the_existing_job(rq: RedisQ, queue: str) -> None:
    @rq.task(unique=True)
    async def charge(order: int) -> None:
        return None

    first = await charge.enqueue(1)
    again = await charge.enqueue(1)
    other = await charge.enqueue(2)
    assert first.created and not again.created and other.created
    assert again.id == first.id and other.id != first.id
    keyed = await charge.with_options(key="order-1-charge").enqueue(3)
    keyed_again = await charge.with_options(key="order-1-charge").enqueue(4)
    assert keyed_again.id == keyed.id and not keyed_again.created
    assert (await rq.stats(queue)).queued == 3


async def test_unique_key_is_released_when_the_record_is_gone(rq: RedisQ) -> None:
    @rq.task(unique=lambda order: f"order-{order}")
    async def charge(order: int) -> None:
        return None

    first = await charge.enqueue(1)
    assert await first.cancel()
    await rq.purge(first.queue, JobState.DEAD)  # not dead: nothing purged; the record still holds the key
    assert (await charge.enqueue(1)).id == first.id
    await rq.backend().client.delete(rq.queue_keys(first.queue).job(first.uid))
    fresh = await charge.enqueue(1)
    assert fresh.created and fresh.id != first.id


async def test_unserializable_arguments_raise_and_write_nothing(rq: RedisQ) -> None:
    @rq.task
    async def takes(x: object) -> None:
        return None

    with pytest.raises(SerializationError, match="object"):
        await takes.enqueue(object())
    with pytest.raises(SerializationError):
        await rq.enqueue_many([takes.call(1), takes.call(object())])
    assert await count_keys(rq) == 0


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((float("nan"),), {}), (([1.0, float("inf")],), {}), ((), {"scores": {"a": float("-inf")}})],
    ids=["nan", "inf-in-list", "minus-inf-in-kwargs"],
)
async def test_nan_or_infinity_arguments_raise_and_write_nothing(
    rq: RedisQ, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    @rq.task(name="floats.takes")
    async def takes(*args: Any, **kwargs: Any) -> None:
        return None

    for attempt in (
        lambda: takes.enqueue(*args, **kwargs),
        lambda: takes.with_options(priority=1).enqueue(*args, **kwargs),
        lambda: rq.enqueue_many([takes.call(1), takes.call(*args, **kwargs)]),
        lambda: rq.enqueue_many([rq.call_by_name("floats.takes", args, kwargs)]),
    ):
        with pytest.raises(SerializationError, match="JSON has no NaN or Infinity"):
            await attempt()
    assert await count_keys(rq) == 0


async def test_option_values_json_cannot_carry_are_refused_at_once(rq: RedisQ) -> None:
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ConfigurationError, match="timeout_s must be a positive finite number"):

            @rq.task(timeout=bad)
            async def wait() -> None:
                return None

    @rq.task
    async def fine() -> None:
        return None

    with pytest.raises(ConfigurationError, match="ttl_s"):
        await fine.with_options(ttl_s=float("nan")).enqueue()
    assert await count_keys(rq) == 0


async def test_oversized_payload_raises_and_writes_nothing(redis_url: str, prefix: str, queue: str) -> None:
    async with RedisQ(redis_url, prefix=prefix, default_queue=queue, max_payload_bytes=1000) as rq:

        @rq.task
        async def takes(blob: str) -> None:
            return None

        with pytest.raises(PayloadTooLarge) as caught:
            await rq.enqueue_many([takes.call("ok"), takes.call("x" * 2000)])
        assert caught.value.limit == 1000 and caught.value.size > 2000
        assert isinstance(caught.value, SerializationError)
        assert await count_keys(rq) == 0
        await takes.enqueue("x" * 500)
        assert await count_keys(rq) > 0


async def test_cancel_queued_and_scheduled_but_not_finished(rq: RedisQ, queue: str) -> None:
    ran: list[int] = []

    @rq.task
    async def work(i: int) -> None:
        ran.append(i)

    queued, scheduled, kept = (
        await work.enqueue(1),
        await work.with_options(delay_s=60).enqueue(2),
        await work.enqueue(3),
    )
    assert await queued.cancel()
    assert await scheduled.cancel()
    assert not await queued.cancel()
    assert (await queued.info()).state is JobState.CANCELLED
    async with running_worker(rq):
        await kept.result(timeout=5)
    assert ran == [3]
    assert not await kept.cancel()
    stats = await rq.stats(queue)
    assert (stats.queued, stats.scheduled, stats.counters["cancelled"]) == (0, 0, 2)
    with pytest.raises(JobNotFound):
        await rq.job(f"{queue}:nosuchjob").cancel()


async def test_lookup_errors_are_typed(rq: RedisQ, queue: str) -> None:
    with pytest.raises(JobNotFound):
        await rq.job(f"{queue}:0000").info()
    with pytest.raises(InvalidJobId):
        rq.job("no-separator")
    with pytest.raises(TaskNotFound):
        rq.get_task("nope")
    with pytest.raises(ConfigurationError):

        @rq.task(priority=5000)
        async def too_high() -> None:
            return None


async def test_registering_after_a_worker_started_is_refused(rq: RedisQ) -> None:
    @rq.task
    async def first() -> None:
        return None

    async with running_worker(rq):
        with pytest.raises(RegistryFrozen, match="before starting workers"):

            @rq.task
            async def late() -> None:
                return None
