"""Workflows (issue 16): chains, groups and chords, jobs that depend on existing jobs across queues, the
four failure policies, idempotent enqueue by workflow id, cancellation, and bookkeeping that expires."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from redisq import (
    ConfigurationError,
    Dependency,
    JobFailed,
    JobNotFound,
    JobState,
    RedisQ,
    Worker,
    WorkflowNotFound,
    chain,
    chord,
    current_job,
    group,
    step,
)
from redisq.core.worker import protocol
from redisq.core.workflow_ops import carry_outboxes

from .conftest import FAST, running_worker


def _other() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


async def _state(job: Any) -> JobState:
    return (await job.info()).state


async def test_a_chain_passes_each_result_on_and_waits_across_queues(rq: RedisQ, queue: str) -> None:
    other = _other()
    order: list[str] = []

    @rq.task()
    async def add(x: int, y: int) -> int:
        order.append("add")
        return x + y

    @rq.task(queue=other)
    async def double(x: int) -> int:
        order.append("double")
        return 2 * x

    @rq.task()
    async def describe(x: int, unit: str) -> str:
        order.append("describe")
        return f"{x} {unit}"

    @rq.task()
    async def notify() -> str:  # takes no result: step(..., takes_result=False)
        return "sent"

    flow = chain(
        add.call(1, 2), double.call(), describe.call(unit="kg"), step(notify.call(), takes_result=False)
    )
    wf = await rq.enqueue_workflow(flow)
    assert [job.queue for job in wf.jobs] == [queue, other, queue, queue]
    assert [await _state(job) for job in wf.jobs] == [JobState.QUEUED] + [JobState.WAITING] * 3
    assert (await rq.stats(queue)).waiting == 2 and (await rq.stats(other)).waiting == 1
    assert wf.last == [wf.jobs[-1]]
    async with running_worker(rq, FAST, queues=[queue, other]):
        assert await wf.result(timeout=10) == "sent"
        assert await wf.jobs[2].result(timeout=1) == "6 kg"
    assert order == ["add", "double", "describe"]
    assert (await rq.stats(queue)).waiting == 0


async def test_a_chord_runs_its_callback_once_with_every_result_in_order(rq: RedisQ, queue: str) -> None:
    calls: list[list[int]] = []

    @rq.task()
    async def square(n: int) -> int:
        await asyncio.sleep(0.01 * (5 - n))  # they end out of order
        return n * n

    @rq.task()
    async def total(results: list[int]) -> int:
        calls.append(results)
        return sum(results)

    wf = await rq.enqueue_workflow(chord(group(square.call(n) for n in range(5)), then=total.call()))
    async with running_worker(rq, FAST):
        assert await wf.result(timeout=10) == 30
    assert calls == [[0, 1, 4, 9, 16]]


async def test_a_group_in_a_chain_fans_out_and_back(rq: RedisQ, queue: str) -> None:
    @rq.task()
    async def upload(name: str) -> str:
        return name

    @rq.task()
    async def resize(path: str, size: int) -> str:
        return f"{path}@{size}"

    @rq.task()
    async def publish(variants: list[str]) -> list[str]:
        return variants

    flow = chain(upload.call("cat.png"), group(resize.call(size=s) for s in (64, 128)), publish.call())
    wf = await rq.enqueue_workflow(flow)
    async with running_worker(rq, FAST):
        assert await wf.result(timeout=10) == ["cat.png@64", "cat.png@128"]


async def test_depends_on_existing_jobs_in_other_queues_with_their_results(rq: RedisQ, queue: str) -> None:
    other = _other()

    @rq.task(queue=other)
    async def fetch(n: int) -> int:
        return n * 10

    @rq.task()
    async def merge() -> dict[str, Any]:
        job = current_job.get()
        assert job is not None
        return job.dependency_results()

    first = await fetch.enqueue(1)
    async with running_worker(rq, FAST, queues=[other]):
        assert await first.result(timeout=10) == 10  # ended before the job that waits for it exists
    second = await fetch.enqueue(2)
    parent = await merge.with_options(depends_on=[first, second.id]).enqueue()
    assert await _state(parent) is JobState.WAITING
    async with running_worker(rq, FAST, queues=[queue, other]):
        assert await parent.result(timeout=10) == {first.id: 10, second.id: 20}

    with pytest.raises(JobNotFound):
        await merge.with_options(depends_on=[f"{other}:nosuchjob"]).enqueue()
    assert (await rq.stats(queue)).waiting == 0  # nothing was created
    with pytest.raises(ConfigurationError):
        merge.with_options(depends_on=first.id)
    with pytest.raises(ConfigurationError):
        Dependency(first.id, "retry")  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", ["fail", "continue", "ignore", "remove"])
async def test_a_dependency_that_ends_dead_applies_the_policy_after_its_retries(
    rq: RedisQ, queue: str, policy: str
) -> None:
    attempts: list[int] = []
    release = asyncio.Event()

    @rq.task(retries=1)
    async def flaky(fail: bool) -> str:
        job = current_job.get()
        assert job is not None
        if fail:
            attempts.append(job.attempt)
            raise RuntimeError("down")
        await release.wait()  # still running when the other one has died, until told
        return "ok"

    @rq.task()
    async def report() -> tuple[dict[str, Any], dict[str, str]]:
        job = current_job.get()
        assert job is not None
        return job.dependency_results(), job.failed_dependencies()

    bad, good = await flaky.enqueue(True), await flaky.enqueue(False)
    parent = await report.with_options(
        depends_on=[Dependency(bad.id, policy), good]  # type: ignore[arg-type]
    ).enqueue()
    async with running_worker(rq, FAST):
        with pytest.raises(JobFailed):
            await bad.result(timeout=10)
        assert attempts == [1, 2]  # its retries came first
        if policy == "continue":  # runs at once, while `good` still runs
            results, failed = await parent.result(timeout=10)
            assert results == {} and failed == {bad.id: "dead", good.id: ""}
            release.set()
            return
        client, deps = rq.backend().client, rq.queue_keys(queue).deps(parent.uid)
        for _ in range(200):  # until the parent heard of it (through the outbox)
            if await client.hget(deps, bad.id) == f"{policy}:dead".encode():
                break
            await asyncio.sleep(0.05)
        if policy == "fail":
            info = await parent.info()
            assert info.state is JobState.DEAD and info.error is not None
            assert info.error.type == "DependencyFailed" and bad.id in info.error.message
        else:
            assert await _state(parent) is JobState.WAITING  # for `good`
        release.set()
        if policy == "fail":
            assert await good.result(timeout=10) == "ok"
            return
        results, failed = await parent.result(timeout=10)
        assert results == {good.id: "ok"}
        assert failed == ({bad.id: "dead"} if policy == "ignore" else {})


async def test_a_parent_failed_by_its_dependency_goes_on_once_that_is_retried(rq: RedisQ, queue: str) -> None:
    broken = {"on": True}

    @rq.task(retries=0)
    async def charge(amount: int) -> int:
        if broken["on"]:
            raise RuntimeError("payment provider down")
        return amount

    @rq.task()
    async def email(charged: int) -> str:
        return f"charged {charged}"

    wf = await rq.enqueue_workflow(chain(charge.call(5), email.call()))
    first, then = wf.jobs
    async with running_worker(rq, FAST):
        with pytest.raises(JobFailed):
            await then.result(timeout=10)
        assert await _state(first) is JobState.DEAD and await _state(then) is JobState.DEAD
        broken["on"] = False
        assert await first.retry()  # an operator retries the failed step
        assert await first.result(timeout=10) == 5
        for _ in range(100):  # its success reaches the dead step through the outbox
            if await _state(then) is not JobState.DEAD:
                break
            await asyncio.sleep(0.05)
        assert await then.result(timeout=10) == "charged 5"
        assert (await then.info()).attempts == 1


async def test_a_workflow_id_makes_a_repeated_enqueue_return_the_same_jobs(rq: RedisQ, queue: str) -> None:
    runs: list[int] = []

    @rq.task()
    async def work(n: int) -> int:
        runs.append(n)
        return n

    @rq.task()
    async def total(results: list[int]) -> int:
        return sum(results)

    def flow() -> Any:
        return chord([work.call(n) for n in range(3)], then=total.call())

    first = await rq.enqueue_workflow(flow(), id="order-42")
    again = await rq.enqueue_workflow(flow(), id="order-42")
    assert [j.id for j in again.jobs] == [j.id for j in first.jobs]
    assert all(j.created for j in first.jobs) and not any(j.created for j in again.jobs)
    async with running_worker(rq, FAST):
        assert await first.result(timeout=10) == 3
        late = await rq.enqueue_workflow(flow(), id="order-42")  # after it ran: still the same
        assert [j.id for j in late.jobs] == [j.id for j in first.jobs]
        await asyncio.sleep(0.3)
    assert sorted(runs) == [0, 1, 2]


async def test_cancelling_or_aborting_a_workflow_stops_what_has_not_started(rq: RedisQ, queue: str) -> None:
    @rq.task()
    async def step_one() -> int:
        return 1

    @rq.task()
    async def step_two(x: int) -> int:
        return x

    wf = await rq.enqueue_workflow(chain(step_one.call(), step_two.call(), step_two.call()))
    assert await wf.cancel() == 3
    assert [await _state(j) for j in wf.jobs] == [JobState.CANCELLED] * 3
    assert (await rq.stats(queue)).waiting == 0

    started = asyncio.Event()

    @rq.task()
    async def long() -> int:
        started.set()
        await asyncio.sleep(30)
        return 1

    wf = await rq.enqueue_workflow(chain(long.call(), step_two.call()))
    async with running_worker(rq, FAST):
        await asyncio.wait_for(started.wait(), 10)
        assert await wf.abort() == 2  # the running step is told to stop, the next one is cancelled
        with pytest.raises(JobFailed):
            await wf.jobs[0].result(timeout=10)
    assert [await _state(j) for j in wf.jobs] == [JobState.ABORTED, JobState.CANCELLED]


def test_the_sync_api_enqueues_and_a_burst_worker_runs_the_whole_chain(
    rq_sync: RedisQ, redis_url: str, prefix: str, queue: str
) -> None:
    def inc(x: int) -> int:
        return x + 1

    task = rq_sync.task(inc)
    wf = rq_sync.enqueue_workflow_sync(chain(task.call(1), task.call(), task.call()))
    assert rq_sync.stats_sync(queue).waiting == 2

    async def work() -> None:  # the worker's own client, closed with its event loop
        async with RedisQ(redis_url, prefix=prefix, default_queue=queue) as worker_rq:
            worker_rq.task(inc)
            # A burst worker stops only once the chain is through: a step's outbox entry keeps it going.
            await Worker(worker_rq, settings=FAST, burst=True).run()

    asyncio.run(work())
    assert wf.result_sync(timeout=1) == 4


async def test_a_finished_workflow_leaves_no_bookkeeping_after_its_retention(
    redis_url: str, prefix: str, queue: str
) -> None:
    rq = RedisQ(redis_url, prefix=prefix, default_queue=queue, result_ttl_s=1)
    try:

        @rq.task()
        async def part(n: int) -> int:
            return n

        @rq.task()
        async def total(results: list[int]) -> int:
            return sum(results)

        wf = await rq.enqueue_workflow(chord([part.call(n) for n in range(4)], then=total.call()))
        async with running_worker(rq, FAST):
            assert await wf.result(timeout=10) == 6
        k = rq.queue_keys(queue)
        client = rq.backend().client
        assert await client.exists(k.deps(wf.jobs[-1].uid)) == 1  # kept with the record
        await asyncio.sleep(1.3)
        keys = [k.job(j.uid) for j in wf.jobs] + [k.deps(j.uid) for j in wf.jobs] + [k.outbox, k.waiting]
        assert [await client.exists(key) for key in keys] == [0] * len(keys)
    finally:
        await rq.aclose()


async def test_a_worker_gone_between_a_step_and_the_release_of_the_next_strands_nothing(
    rq: RedisQ, queue: str
) -> None:
    """A step settled by a worker that died before carrying its outbox entry (the settle below is the
    worker's own script call, and nothing carries after it): the entry waits in the outbox, the next step
    waits, and the next worker's periodic carry releases it; a replay of the entry changes nothing."""

    @rq.task()
    async def first() -> int:
        return 7

    @rq.task()
    async def second(x: int) -> int:
        return x + 1

    wf = await rq.enqueue_workflow(chain(first.call(), second.call()))
    k = rq.queue_keys(queue)
    _, [delivery] = await rq.backend().run(protocol.fetch(k, rq.now_ms(), 1, 30_000, "gone", 0, 60))
    settled = [protocol.Settlement(delivery, "ok", b"7")]
    stale, told = await rq.backend().run(protocol.finish({queue: k}, settled, rq.now_ms(), 60))
    assert (stale, told) == ([], [queue])
    client = rq.backend().client
    [entry] = await client.lrange(k.outbox, 0, -1)
    assert await _state(wf.jobs[1]) is JobState.WAITING
    async with running_worker(rq, FAST):
        assert await wf.jobs[1].result(timeout=10) == 8
    assert await client.llen(k.outbox) == 0
    await client.rpush(k.outbox, entry)  # a carrier killed after applying it, before taking it out
    assert await rq.backend().run(carry_outboxes(rq.queue_keys, [queue], rq.now_ms(), 60)) == 1
    info = await wf.jobs[1].info()
    assert info.state is JobState.SUCCEEDED and info.attempts == 1


async def test_a_workflow_shows_its_graph_with_each_steps_state(rq: RedisQ, queue: str) -> None:
    @rq.task(retries=0)
    async def parse(n: int) -> int:
        if n < 0:
            raise ValueError("negative")
        return n

    @rq.task()
    async def total(results: list[int]) -> int:
        return sum(results)

    wf = await rq.enqueue_workflow(chord([parse.call(1), parse.call(-1)], then=total.call()), id="import-9")
    graph = await rq.workflow("import-9")
    assert [s.job_id for s in graph.steps] == [j.id for j in wf.jobs]
    assert [s.task for s in graph.steps] == [parse.name, parse.name, total.name]
    assert graph.steps[2].depends_on == [(wf.jobs[0].id, "fail"), (wf.jobs[1].id, "fail")]
    assert [s.state for s in graph.steps] == [JobState.QUEUED, JobState.QUEUED, JobState.WAITING]
    assert graph.state == "running"
    async with running_worker(rq, FAST):
        with pytest.raises(JobFailed):
            await wf.jobs[2].result(timeout=10)
    graph = await rq.workflow("import-9")
    assert [s.state for s in graph.steps] == [JobState.SUCCEEDED, JobState.DEAD, JobState.DEAD]
    assert [s.error_type for s in graph.steps] == [None, "ValueError", "DependencyFailed"]
    assert graph.state == "failed"
    assert (await rq.enqueue_workflow(parse.call(2))).id != wf.id  # no id given: a random one
    with pytest.raises(WorkflowNotFound):
        await rq.workflow("no-such-flow")
