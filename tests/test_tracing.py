"""OpenTelemetry spans (issue 14): `send`/`create` at enqueue, `process` per attempt, one trace from the
request's context to the job's own spans; nothing at all without a tracer provider. Each test traces its
client to an in-memory exporter of its own (`rq.tracing.use`): the process-wide provider stays unset, as
the rest of the suite expects."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from redisq import Backoff, JobFailed, JobState, RedisQ, Worker, current_job
from redisq.core import context
from redisq.core.errors import PayloadTooLarge

from .conftest import FAST, running_worker

HEADER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
HEADER = f"00-{HEADER_TRACE}-00f067aa0ba902b7-01"


@pytest.fixture
def exporter(rq: RedisQ) -> Iterator[InMemorySpanExporter]:
    found = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(found))
    rq.tracing.use(provider)
    yield found
    provider.shutdown()


def by_name(spans: tuple[ReadableSpan, ...] | list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def traceparent_of(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-{int(span.context.trace_flags):02x}"


def parent_id(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


@pytest.fixture
def in_a_request() -> Iterator[None]:
    """What the web adapters do for a request that came with a `traceparent` header."""
    token = context.traceparent.set(HEADER)
    yield
    context.traceparent.reset(token)


async def test_without_a_tracer_provider_nothing_is_traced(rq: RedisQ, in_a_request: None) -> None:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # this process sets none
    assert rq.tracing.tracer() is None

    @rq.task(name="t.plain")
    async def plain() -> None: ...

    job = await plain.enqueue()
    assert (await job.info()).traceparent == HEADER  # the request's header, as it always was
    [many] = await rq.enqueue_many([plain.call()])
    assert (await many.info()).traceparent == HEADER


async def test_a_request_its_enqueue_and_the_job_form_one_trace(
    rq: RedisQ, queue: str, exporter: InMemorySpanExporter, in_a_request: None
) -> None:
    inner = rq.tracing.tracer()
    assert inner is not None

    @rq.task(name="t.async_work")
    async def async_work(n: int) -> int:
        with inner.start_as_current_span("inside async"):
            return n + 1

    @rq.task(name="t.def_work")
    def def_work(n: int) -> int:  # runs in the worker's thread pool
        with inner.start_as_current_span("inside def"):
            return n * 2

    first = await async_work.enqueue(1)  # the queue's first job: through enqueue_many
    second = async_work.delay(2)  # the lean path once the queue is known, sync
    third = await def_work.enqueue(3)
    await Worker(rq, [queue], settings=FAST, burst=True).run()
    assert [await j.result(timeout=5) for j in (first, second, third)] == [2, 3, 6]

    spans = exporter.get_finished_spans()
    sends = by_name(spans, f"send {queue}")
    processes = by_name(spans, f"process {queue}")
    assert len(sends) == len(processes) == 3
    for job, send in zip((first, second, third), sends, strict=True):
        assert send.kind is SpanKind.PRODUCER and send.context is not None
        assert f"{send.context.trace_id:032x}" == HEADER_TRACE  # under the request's header
        assert parent_id(send) == int(HEADER.split("-")[2], 16)
        assert send.attributes is not None
        assert send.attributes["messaging.system"] == "redisq"
        assert send.attributes["messaging.destination.name"] == queue
        assert send.attributes["messaging.operation.type"] == "send"
        assert send.attributes["messaging.message.id"] == job.id
        # The envelope carries the send span's context: the job's creation context.
        assert (await job.info()).traceparent == traceparent_of(send)
        [process] = [p for p in processes if p.attributes and p.attributes["messaging.message.id"] == job.id]
        assert process.kind is SpanKind.CONSUMER
        assert parent_id(process) == send.context.span_id
        assert process.context is not None and process.context.trace_id == send.context.trace_id
        assert process.attributes is not None
        assert process.attributes["messaging.operation.type"] == "process"
        assert process.attributes["messaging.operation.name"] == "process"
        assert process.attributes["redisq.attempt"] == 1
        assert process.attributes["redisq.outcome"] == "ok"
        assert process.status.status_code is StatusCode.UNSET
    # The task's own spans nest under its process span, on the loop and in a thread alike.
    for name, job in (("inside async", first), ("inside async", second), ("inside def", third)):
        [process] = [p for p in processes if p.attributes and p.attributes["messaging.message.id"] == job.id]
        assert process.context is not None
        assert [s.name for s in spans if parent_id(s) == process.context.span_id] == [name]


async def test_a_bulk_enqueue_has_a_create_span_per_job_linked_from_one_send_span(
    rq: RedisQ, queue: str, exporter: InMemorySpanExporter
) -> None:
    @rq.task(name="t.bulk")
    async def bulk(n: int) -> int:
        return n

    other = f"{queue}-other"
    jobs = await rq.enqueue_many([bulk.call(1), bulk.call(2), bulk.with_options(queue=other).call(3)])
    await Worker(rq, [queue, other], settings=FAST, burst=True).run()
    spans = exporter.get_finished_spans()
    [send] = by_name(spans, "send")  # two queues: no destination in the name
    creates = by_name(spans, f"create {queue}") + by_name(spans, f"create {other}")
    assert send.kind is SpanKind.CLIENT and send.attributes is not None
    assert send.attributes["messaging.batch.message_count"] == 3
    assert "messaging.destination.name" not in send.attributes
    assert sorted(link.context.span_id for link in send.links) == sorted(
        c.context.span_id for c in creates if c.context is not None
    )
    for job in jobs:
        [create] = [c for c in creates if c.attributes and c.attributes["messaging.message.id"] == job.id]
        assert create.kind is SpanKind.PRODUCER and create.context is not None
        assert (await job.info()).traceparent == traceparent_of(create)
        [process] = [
            p
            for p in by_name(spans, f"process {job.queue}")
            if p.attributes and p.attributes["messaging.message.id"] == job.id
        ]
        assert parent_id(process) == create.context.span_id


async def test_failures_retries_aborts_and_refusals_are_visible(
    rq: RedisQ, redis_url: str, prefix: str, queue: str, exporter: InMemorySpanExporter
) -> None:
    @rq.task(name="t.flaky", retries=1, backoff=Backoff.fixed(0.05))
    async def flaky() -> None:
        raise ValueError("not today")

    started = asyncio.Event()

    @rq.task(name="t.long")
    async def long() -> None:
        started.set()
        await asyncio.sleep(30)

    elsewhere = RedisQ(redis_url, prefix=prefix, default_queue=queue)  # knows a task this worker does not
    try:

        @elsewhere.task(name="t.nobody_here")
        async def ghost() -> None: ...

        unknown = rq.job((await ghost.enqueue()).id)  # read through this test's client
    finally:
        await elsewhere.aclose()
    failing = await flaky.enqueue()
    async with running_worker(rq, queues=[queue]):
        for job in (failing, unknown):
            with pytest.raises(JobFailed):
                await job.result(timeout=10)
        aborted = await long.enqueue()
        await asyncio.wait_for(started.wait(), 10)
        assert await aborted.abort()
        with pytest.raises(JobFailed):
            await aborted.result(timeout=10)
    assert (await aborted.info()).state is JobState.ABORTED

    def processes_of(job_id: str) -> list[ReadableSpan]:
        found = [
            s
            for s in exporter.get_finished_spans()
            if s.name == f"process {queue}"
            and s.attributes
            and s.attributes["messaging.message.id"] == job_id
        ]
        return sorted(found, key=lambda s: s.attributes["redisq.attempt"] if s.attributes else 0)

    retried, dead = processes_of(failing.id)
    for span, outcome in ((retried, "retry"), (dead, "dead")):
        assert span.status.status_code is StatusCode.ERROR and span.attributes is not None
        assert span.attributes["error.type"] == "ValueError"
        assert span.attributes["redisq.outcome"] == outcome
        [event] = span.events
        assert event.name == "exception" and event.attributes is not None
        assert event.attributes["exception.message"] == "not today"
        assert "raise ValueError" in str(event.attributes["exception.stacktrace"])
    assert retried.parent == dead.parent  # both attempts under the job's creation context
    [refused] = processes_of(unknown.id)
    assert refused.attributes is not None and refused.attributes["error.type"] == "UnknownTask"
    assert refused.attributes["redisq.task"] == "t.nobody_here"
    assert refused.attributes["redisq.outcome"] == "dead"
    [stopped] = processes_of(aborted.id)
    assert stopped.attributes is not None and stopped.attributes["error.type"] == "JobAborted"
    assert stopped.attributes["redisq.outcome"] == "abort"


async def test_a_failed_enqueue_ends_its_span_in_error(rq: RedisQ, exporter: InMemorySpanExporter) -> None:
    @rq.task(name="t.big")
    async def big(blob: str) -> None: ...

    await big.enqueue("small")  # the queue is known: the next one takes the lean path
    with pytest.raises(PayloadTooLarge):
        await big.enqueue("x" * (rq.settings.max_payload_bytes + 1))
    failed = exporter.get_finished_spans()[-1]
    assert failed.name.startswith("send ") and failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None and failed.attributes["error.type"] == "PayloadTooLarge"
    assert [event.name for event in failed.events] == ["exception"]


async def test_a_job_enqueued_by_a_job_continues_its_trace(
    rq: RedisQ, queue: str, exporter: InMemorySpanExporter
) -> None:
    @rq.task(name="t.child")
    async def child() -> str:
        job = current_job.get()
        assert job is not None
        return job.id

    @rq.task(name="t.parent")
    async def parent() -> str:
        return (await child.enqueue()).id

    first = await parent.enqueue()
    await Worker(rq, [queue], settings=FAST, burst=True).run()
    second_id = await first.result(timeout=5)
    spans = exporter.get_finished_spans()
    trace_ids = {span.context.trace_id for span in spans if span.context is not None}
    assert len(trace_ids) == 1  # no request here: the first send span started it
    [first_process] = [
        s
        for s in by_name(spans, f"process {queue}")
        if s.attributes and s.attributes["redisq.task"] == "t.parent"
    ]
    [second_send] = [
        s
        for s in by_name(spans, f"send {queue}")
        if s.attributes and s.attributes["messaging.message.id"] == second_id
    ]
    assert first_process.context is not None and parent_id(second_send) == first_process.context.span_id
