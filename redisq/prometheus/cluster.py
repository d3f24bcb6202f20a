"""The cluster-wide numbers, read from Redis: one pipelined read per scrape, cached briefly.

What a scrape reads (`read_cluster`, a sans-I/O operation): the known queues, each queue's stats (the
`stats` script: depths, counters, head age, paused), its counters per task (`<prefix>:{q}:tasks`), the
worker registry and the heartbeats. The names of the previous scrape are asked for in the same round trip
as the lists themselves (as the dashboard's poll does): only a queue or a worker new since then costs a
second round trip. The reply is kept `cache_s` seconds per collector, so ten scrapers (several Prometheus
servers, a dashboard, a KEDA scaler) within that window cost Redis one read.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from redisq.core import ops
from redisq.core.client import RedisQ
from redisq.core.errors import RedisQError
from redisq.core.keys import QueueKeys
from redisq.core.operation import Command, Op, gather
from redisq.core.stats import QueueStats, WorkerInfo

from . import names

KeysFor = Callable[[str], QueueKeys]
TaskCounts = dict[tuple[str, str], int]  # (counter, task) -> count


@dataclass
class ClusterNumbers:
    """One read: each queue's stats and counters per task, and the live workers."""

    stats: list[QueueStats]
    tasks: dict[str, TaskCounts]
    workers: list[WorkerInfo]


@dataclass
class ScrapeMemory:
    """The names the previous scrape found, asked for in the next scrape's first (and only) round trip."""

    queues: list[str] = field(default_factory=list)
    worker_ids: list[str] = field(default_factory=list)


def parse_task_counts(flat: Any) -> TaskCounts:
    """HGETALL of `<prefix>:{q}:tasks`: fields `<counter>:<task>` (the counter has no ':')."""
    counts: TaskCounts = {}
    if isinstance(flat, Exception):  # not a hash: counted per queue only until it is repaired
        return counts
    for raw_field, raw_value in (
        flat.items() if isinstance(flat, dict) else zip(flat[::2], flat[1::2], strict=True)
    ):
        counter, sep, task = raw_field.decode().partition(":")
        if sep and task:
            try:
                counts[(counter, task)] = int(raw_value)
            except ValueError:  # not written by redisq
                continue
    return counts


def _task_counters(keys_for: KeysFor, queues: Sequence[str]) -> Op[dict[str, TaskCounts]]:
    if not queues:
        return {}
    replies = yield [Command(("HGETALL", keys_for(q).tasks), tolerant=True) for q in queues]
    return {q: parse_task_counts(reply) for q, reply in zip(queues, replies, strict=True)}


def _workers(prefix: str, memory: ScrapeMemory, now_ms: int, ttl_ms: int) -> Op[list[WorkerInfo]]:
    memory.worker_ids, workers = yield from ops.live_workers_known(prefix, memory.worker_ids, now_ms, ttl_ms)
    return workers


def _queues(keys_for: KeysFor, prefix: str, memory: ScrapeMemory, now_ms: int) -> Op[tuple[Any, Any]]:
    guess = list(memory.queues)
    known, stats, tasks = yield from gather(
        [ops.known_queues(prefix), ops.stats_many(keys_for, guess, now_ms), _task_counters(keys_for, guess)]
    )
    asked = set(guess)
    new = [name for name in known if name not in asked]
    if new:  # queues that appeared since the last scrape: one more round trip
        more_stats, more_tasks = yield from gather(
            [ops.stats_many(keys_for, new, now_ms), _task_counters(keys_for, new)]
        )
        stats, tasks = [*stats, *more_stats], {**tasks, **more_tasks}
    wanted = set(known)
    memory.queues = list(known)
    return sorted((s for s in stats if s.queue in wanted), key=lambda s: s.queue), tasks


def read_cluster(
    keys_for: KeysFor, prefix: str, memory: ScrapeMemory, now_ms: int, worker_ttl_ms: int
) -> Op[ClusterNumbers]:
    """Every queue's numbers and the live workers: one round trip once the names are known."""
    (stats, tasks), workers = yield from gather(
        [_queues(keys_for, prefix, memory, now_ms), _workers(prefix, memory, now_ms, worker_ttl_ms)]
    )
    return ClusterNumbers(stats, tasks, workers)


def families(numbers: ClusterNumbers | None) -> Iterator[Any]:
    """The metric families of one read (`redisq_up` 0 and nothing else when Redis could not be read)."""
    up = GaugeMetricFamily(names.UP, "1 if this scrape read Redis, else 0", value=0 if numbers is None else 1)
    yield up
    if numbers is None:
        return
    for metric, counter in names.COUNTERS_PER_TASK.items():
        family = CounterMetricFamily(
            metric.removesuffix("_total"), f"Jobs {counter}, per queue and task", labels=["queue", "task"]
        )
        for s in numbers.stats:
            per_task = {t: n for (c, t), n in numbers.tasks.get(s.queue, {}).items() if c == counter}
            for task in sorted(per_task):
                family.add_metric([s.queue, task], per_task[task])
            # Counted per queue but not per task: jobs whose task could not be read (a damaged record),
            # and counts from before the counters per task existed.
            rest = s.counters.get(counter, 0) - sum(per_task.values())
            if rest > 0:
                family.add_metric([s.queue, ""], rest)
        yield family
    for metric, counter in names.COUNTERS_PER_QUEUE.items():
        family = CounterMetricFamily(
            metric.removesuffix("_total"), f"Jobs {counter}, per queue", labels=["queue"]
        )
        for s in numbers.stats:
            family.add_metric([s.queue], s.counters.get(counter, 0))
        yield family
    depth = GaugeMetricFamily(names.QUEUE_DEPTH, "Jobs in each state now", labels=["queue", "state"])
    age = GaugeMetricFamily(
        names.OLDEST_AGE, "Age of the job at the head of the queue (0: empty)", labels=["queue"]
    )
    paused = GaugeMetricFamily(names.PAUSED, "1 while the queue is paused", labels=["queue"])
    serving = GaugeMetricFamily(names.QUEUE_WORKERS, "Live workers that serve the queue", labels=["queue"])
    for s in numbers.stats:
        for state, value in zip(
            names.DEPTH_STATES, (s.queued, s.scheduled, s.active, s.dead, s.limited), strict=True
        ):
            depth.add_metric([s.queue, state], value)
        age.add_metric([s.queue], s.oldest_queued_age_s or 0.0)
        paused.add_metric([s.queue], 1 if s.paused else 0)
        serving.add_metric([s.queue], sum(1 for w in numbers.workers if s.queue in w.queues))
    yield from (depth, age, paused, serving)
    yield GaugeMetricFamily(names.WORKERS_LIVE, "Workers with a fresh heartbeat", value=len(numbers.workers))


class ClusterCollector(Collector):
    """A prometheus_client collector of the cluster-wide numbers (see `names`), for one client.

    Each instance keeps its own cache (`cache_s`): register one per registry or endpoint, not one per
    request. `collect()` (what `generate_latest` calls) reads Redis synchronously when its cache is old;
    async code uses `await numbers()` (see `MetricsEndpoint`), which does not block the event loop.
    """

    def __init__(self, rq: RedisQ, *, cache_s: float = 1.0) -> None:
        self._rq = rq
        self._cache_s = cache_s
        self._memory = ScrapeMemory()
        self._numbers: ClusterNumbers | None = None
        self._read_at = -float("inf")  # monotonic time of the last read (failed reads too)
        self._lock = threading.Lock()  # one sync read at a time; the others use its result
        self._inflight: dict[asyncio.AbstractEventLoop, asyncio.Future[None]] = {}
        self.reads = 0  # reads of Redis so far (tests and introspection)

    def describe(self) -> list[Any]:
        return []  # registering must not read Redis; the names are in `names.CLUSTER`

    def _op(self) -> Op[ClusterNumbers]:
        rq = self._rq
        now_ms = rq.now_ms()
        return read_cluster(
            rq.queue_keys, rq.settings.prefix, self._memory, now_ms, rq.settings.worker_ttl_s * 1000
        )

    def _fresh(self) -> bool:
        return time.monotonic() - self._read_at < self._cache_s

    def _store(self, numbers: ClusterNumbers | None) -> None:
        self._numbers, self._read_at = numbers, time.monotonic()
        self.reads += 1

    def numbers_sync(self) -> ClusterNumbers | None:
        """The cached read, or a new one when it is older than `cache_s` (None: Redis could not be read,
        which is cached as long: a scrape storm on a Redis in trouble does not add to its load)."""
        with self._lock:
            if not self._fresh():
                try:
                    numbers: ClusterNumbers | None = self._rq.backend_sync().run(self._op())
                except RedisQError:
                    numbers = None
                self._store(numbers)
            return self._numbers

    async def numbers(self) -> ClusterNumbers | None:
        """`numbers_sync` for async code: scrapes that arrive during a read on this loop share it."""
        if self._fresh():
            return self._numbers
        loop = asyncio.get_running_loop()
        pending = self._inflight.get(loop)
        if pending is not None:
            await asyncio.shield(pending)
            return self._numbers
        future: asyncio.Future[None] = loop.create_future()
        self._inflight[loop] = future
        try:
            try:
                numbers: ClusterNumbers | None = await self._rq.backend().run(self._op())
            except RedisQError:
                numbers = None
            self._store(numbers)
        finally:
            del self._inflight[loop]
            future.set_result(None)
        return numbers

    def collect(self) -> Iterator[Any]:
        yield from families(self.numbers_sync())
