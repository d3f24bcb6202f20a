"""The enqueue figures (single, bulk), filling a queue before a drain, and a sync enqueue over any producer.

Every system goes through these functions by its adapter. A loop that runs past the cap stops there and
says so; the one bulk call cannot be interrupted, so it is bounded by the parent's limit for the system.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from ..harness import Figure, rate
from .base import Adapter, Bulk, Context


def _single_sync(adapter: Adapter, ctx: Context) -> Figure | None:
    if adapter.self_timed:  # its producers are async (BullMQ on Node)
        return None
    producer = adapter.sync_producer()
    if producer is None:
        return None
    try:
        producer.enqueue(ctx.jobs)  # connect (and load scripts) outside the timing
        done, elapsed = _loop(producer.enqueue, ctx)
    finally:
        producer.close()
    return _enqueue_figure(adapter, "single enqueue (sync)", "single", done, elapsed, ctx)


def _loop(enqueue: Callable[[int], object], ctx: Context) -> tuple[int, float]:
    started = time.perf_counter()
    deadline = started + ctx.cap_s
    for i in range(ctx.jobs):
        enqueue(i)
        if i % 256 == 255 and time.perf_counter() > deadline:
            return i + 1, time.perf_counter() - started
    return ctx.jobs, time.perf_counter() - started


def _single_self_timed(adapter: Adapter, ctx: Context) -> Figure:
    done, elapsed = adapter.timed_single(ctx.jobs, ctx.cap_s)
    return _enqueue_figure(adapter, "single enqueue (async, awaited)", "single", done, elapsed, ctx)


async def _single_async(adapter: Adapter, ctx: Context) -> Figure | None:
    producer = await adapter.async_producer()
    if producer is None:
        return None
    try:
        await producer.enqueue(ctx.jobs)
        started = time.perf_counter()
        deadline = started + ctx.cap_s
        done = ctx.jobs
        for i in range(ctx.jobs):
            await producer.enqueue(i)
            if i % 256 == 255 and time.perf_counter() > deadline:
                done = i + 1
                break
        elapsed = time.perf_counter() - started
    finally:
        await producer.aclose()
    return _enqueue_figure(adapter, "single enqueue (async, awaited)", "single", done, elapsed, ctx)


def _enqueue_figure(
    adapter: Adapter, label: str, kind: str, done: int, elapsed: float, ctx: Context
) -> Figure:
    note = "" if done == ctx.jobs else f"capped at {ctx.cap_s:.0f}s: {done}/{ctx.jobs} enqueued"
    variant = "async" if "async" in label else "sync"
    setup = adapter.async_api if variant == "async" else adapter.sync_api
    fig = Figure(adapter.system, label, rate(done, elapsed), "jobs/s", note, kind=kind, variant=variant)
    fig.setup = setup
    return fig


SINGLE_PASSES = 3


def single_enqueue(adapter: Adapter, ctx: Context, mode: str) -> list[Figure]:
    """One producer, `jobs` enqueue calls one at a time. mode: "sync" or "async".

    The best of SINGLE_PASSES passes, each on an emptied database (all of them in extra["passes"]), as
    for the raw limit: one round trip per call wakes both processes every time, so one pass on a shared
    machine measures its neighbours as much as the system. A capped pass ends the figure.
    """
    best: Figure | None = None
    passes: list[int] = []
    for n in range(SINGLE_PASSES):
        if n:
            client = ctx.client()
            client.flushdb()
            client.close()
        if mode == "sync":
            fig = _single_sync(adapter, ctx)
        elif adapter.self_timed:
            fig = _single_self_timed(adapter, ctx)
        else:
            fig = asyncio.run(_single_async(adapter, ctx))
        if fig is None:
            return []
        passes.append(round(fig.value or 0))
        if best is None or (fig.value or 0) > (best.value or 0):
            best = fig
        if fig.note:  # capped: the system is slow enough that one pass says it
            break
    assert best is not None
    best.extra["passes"] = passes
    return [best]


def bulk_enqueue(
    adapter: Adapter, ctx: Context, mode: str, tuned: tuple[str, Bulk] | None = None
) -> list[Figure]:
    """`jobs` jobs in one documented bulk call; building its input is not timed (reported in extra)."""
    if adapter.self_timed:
        if mode == "sync":
            return []
        prepare_s, send_s = adapter.timed_bulk(ctx.jobs)
        t0, t1, t2 = 0.0, prepare_s, prepare_s + send_s
    elif mode == "sync":
        bulk = tuned[1] if tuned is not None else adapter.sync_bulk()
        if bulk is None:
            return []
        try:
            t0 = time.perf_counter()
            prepared = bulk.prepare(range(ctx.jobs))
            t1 = time.perf_counter()
            bulk.send(prepared)
            t2 = time.perf_counter()
        finally:
            bulk.close()
    else:

        async def go() -> tuple[float, float, float] | None:
            bulk = await adapter.async_bulk()
            if bulk is None:
                return None
            try:
                t0 = time.perf_counter()
                prepared = bulk.prepare(range(ctx.jobs))
                t1 = time.perf_counter()
                await bulk.send(prepared)
                return t0, t1, time.perf_counter()
            finally:
                await bulk.aclose()

        times = asyncio.run(go())
        if times is None:
            return []
        t0, t1, t2 = times
    label = f"bulk enqueue ({mode})" if tuned is None else f"bulk enqueue ({mode}, {tuned[0]})"
    fig = Figure(adapter.system, label, rate(ctx.jobs, t2 - t1), "jobs/s", kind="bulk")
    fig.variant = mode if tuned is None else f"{mode}, {tuned[0]}"
    fig.setup = adapter.bulk_api if tuned is None else tuned[0]
    fig.extra["with_prepare_jobs_per_s"] = round(rate(ctx.jobs, t2 - t0))
    return [fig]


def fill(adapter: Adapter, indices: Sequence[int], deadline: float) -> None:
    """Queue the jobs to drain, by the fastest API the system has. Not timed."""
    bulk = adapter.sync_bulk()
    if bulk is not None:
        try:
            bulk.send(bulk.prepare(indices))
        finally:
            bulk.close()
        return
    producer = adapter.sync_producer()
    if producer is not None:
        try:
            for i in indices:
                producer.enqueue(i)
                if i % 256 == 0 and time.monotonic() > deadline:
                    raise TimeoutError("filling the queue took longer than the cap")
        finally:
            producer.close()
        return
    asyncio.run(_fill_async(adapter, indices, deadline))


async def _fill_async(adapter: Adapter, indices: Sequence[int], deadline: float) -> None:
    bulk = await adapter.async_bulk()
    if bulk is not None:
        try:
            await bulk.send(bulk.prepare(indices))
        finally:
            await bulk.aclose()
        return
    producer = await adapter.async_producer()
    assert producer is not None, "an adapter needs at least one producer"
    try:
        for start in range(0, len(indices), 100):  # 100 in flight at a time
            await asyncio.gather(*(producer.enqueue(i) for i in indices[start : start + 100]))
            if time.monotonic() > deadline:
                raise TimeoutError("filling the queue took longer than the cap")
    finally:
        await producer.aclose()


# ---- workers ---------------------------------------------------------------------------------------


@contextmanager
def sync_enqueue(adapter: Adapter) -> Iterator[Callable[[int, float], object]]:
    """A sync `enqueue(index, enqueued_at)`: the sync producer, else the async one run by a private loop."""
    producer = adapter.sync_producer()
    if producer is not None:
        try:
            yield producer.enqueue
        finally:
            producer.close()
        return
    loop = asyncio.new_event_loop()
    try:
        aproducer = loop.run_until_complete(adapter.async_producer())
        assert aproducer is not None, "an adapter needs at least one producer"
        try:
            yield lambda i, t: loop.run_until_complete(aproducer.enqueue(i, t))
        finally:
            loop.run_until_complete(aproducer.aclose())
    finally:
        loop.close()
