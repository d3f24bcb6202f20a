"""Periodic jobs (issue 12): timing (cron in a time zone, DST, every=), the atomic claim of a tick, the
run-time API (list, pause, resume, run now, upsert, delete) and the upsert of declared schedules.

The clock is passed in (`now_ms=`): nothing here sleeps for a tick. Worker processes are in
tests/test_schedules_workers.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import redis

from redisq import RedisQ
from redisq.core.errors import ConfigurationError, RegistryFrozen, ScheduleNotFound
from redisq.core.job import record_payload
from redisq.core.schedules import MISSED_AFTER_MS, Timing

from .conftest import running_worker

PARIS = ZoneInfo("Europe/Paris")
MINUTE = 60_000
HOUR = 60 * MINUTE


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def paris(*fields: int) -> int:
    return ms(datetime(*fields, tzinfo=PARIS))  # type: ignore[misc]


def noop() -> None:
    return None


def add(a: int, b: int = 0) -> int:
    return a + b


def ticks_of(raw: redis.Redis, rq: RedisQ, queue: str) -> Counter[str]:
    """How many jobs each tick wrote, by the unique key each carries (schedule:<id>:<tick>)."""
    k = rq.queue_keys(queue)
    uids = [u for level in raw.zrange(k.levels, 0, -1) for u in raw.lrange(k.ready(level.decode()), 0, -1)]
    keys = [raw.hget(k.job(u.decode()), "unique_key") for u in uids]
    return Counter(key.decode() for key in keys if key is not None)


@pytest.fixture
def raw(rq_sync: RedisQ) -> redis.Redis:
    client = rq_sync.sync_client()  # of the topology under test (a Cluster client on the cluster)
    yield client  # type: ignore[misc]
    client.close()


# ---- timing, without Redis ----------------------------------------------------------------------------


def test_spring_forward_runs_a_skipped_time_once() -> None:
    """Europe/Paris, 2026-03-29: 02:00 jumps to 03:00; a 02:30 job runs once, right after the gap."""
    daily = Timing.build(cron="30 2 * * *", tz="Europe/Paris")
    runs, t = [], paris(2026, 3, 28, 12, 0)
    while t < paris(2026, 3, 31, 12, 0):
        t = daily.next_after(t, 0)  # type: ignore[assignment]
        runs.append(datetime.fromtimestamp(t / 1000, PARIS))
    assert [(r.day, r.hour, r.minute) for r in runs[:3]] == [(29, 3, 0), (30, 2, 30), (31, 2, 30)]


def test_fall_back_runs_a_repeated_time_once() -> None:
    """Europe/Paris, 2026-10-25: 03:00 goes back to 02:00, so 02:30 happens twice; the daily job runs once,
    while an hourly one runs at each real 02:30 (cron's rule)."""
    daily = Timing.build(cron="30 2 * * *", tz="Europe/Paris")
    hourly = Timing.build(cron="30 * * * *", tz="Europe/Paris")
    start, stop = paris(2026, 10, 24, 12, 0), paris(2026, 10, 26, 12, 0)

    def all_ticks(timing: Timing) -> list[int]:
        out, t = [], start
        while (t := timing.next_after(t, 0)) < stop:  # type: ignore[operator, assignment]
            out.append(t)
        return out

    daily_runs = all_ticks(daily)
    assert len(daily_runs) == 2  # the 25th and the 26th
    assert daily_runs[1] - daily_runs[0] == 25 * HOUR  # the 25th is a 25-hour day
    on_the_25th = [t for t in all_ticks(hourly) if datetime.fromtimestamp(t / 1000, PARIS).day == 25]
    assert len(on_the_25th) == 25  # 02:30 twice: once in summer time, once in winter time


def test_every_is_real_time_from_its_anchor() -> None:
    every = Timing.build(every=timedelta(hours=1), start=datetime(2026, 3, 29, 0, 0, tzinfo=timezone.utc))
    anchor = every.start_ms
    assert anchor is not None
    assert every.next_after(anchor - 5 * HOUR, 0) == anchor  # not before its start
    assert every.next_after(anchor, 0) == anchor + HOUR
    assert every.next_after(anchor + 90 * MINUTE, 0) == anchor + 2 * HOUR  # DST does not move it
    assert Timing.build(every=60, end=anchor + HOUR).next_after(anchor + HOUR, anchor) is None


def test_catch_up_plans_one_run_never_a_burst() -> None:
    last = Timing.build(every=timedelta(hours=1), catch_up="last")
    skip = Timing.build(every=timedelta(hours=1), catch_up="skip")
    anchor, due = 0, 10 * HOUR
    now = due + 5 * HOUR + 10 * MINUTE  # five ticks missed; the latest is 10 minutes old
    assert last.plan(due, now, anchor) == (due + 5 * HOUR, due + 6 * HOUR)
    assert skip.plan(due, now, anchor) == (None, due + 6 * HOUR)
    on_time = due + MISSED_AFTER_MS // 2
    assert skip.plan(due, on_time, anchor) == (due, due + HOUR)


@pytest.mark.parametrize(
    ("timing", "message"),
    [
        ({"cron": "61 * * * *"}, "bad cron expression"),
        ({"cron": "every day"}, "bad cron expression"),
        ({"cron": "0 2 * * *", "tz": "Mars/Olympus"}, "unknown time zone"),
        ({"every": timedelta(0)}, "at least one second"),
        ({"every": float("nan")}, "every must be"),
        ({}, "exactly one of cron= and every="),
        ({"cron": "0 2 * * *", "every": 60}, "exactly one of cron= and every="),
        ({"cron": "0 2 * * *", "catch_up": "all"}, "catch_up"),
        ({"cron": "0 2 * * *", "start": 2000, "end": 1000}, "end must come after"),
    ],
)
def test_bad_schedules_are_refused_where_declared(rq_sync: RedisQ, timing: dict, message: str) -> None:
    task = rq_sync.task(noop)
    with pytest.raises(ConfigurationError, match=message):
        rq_sync.schedule(task, **timing)
    assert rq_sync.declared_schedules == {}


def test_bad_declarations_on_the_task_decorator(rq_sync: RedisQ) -> None:
    with pytest.raises(ConfigurationError, match="unknown time zone"):
        rq_sync.task(schedule="0 2 * * *", tz="Nowhere/Atlantis")(noop)
    assert rq_sync.tasks == {}  # nothing half-registered
    with pytest.raises(ConfigurationError, match="tz= is the time zone of a schedule="):
        rq_sync.task(tz="UTC")(noop)
    with pytest.raises(ConfigurationError, match="arguments do not fit"):
        rq_sync.task(schedule="0 2 * * *")(add)  # `a` is required, and a schedule= passes none
    with pytest.raises(ConfigurationError, match="schedule id"):
        rq_sync.schedule(rq_sync.task(noop), every=60, id="a/b")
    task = rq_sync.task(add)
    with pytest.raises(ConfigurationError, match="arguments do not fit"):
        rq_sync.schedule(task, every=60, args=["not a number"])


# ---- the claim in Redis --------------------------------------------------------------------------------


def test_dst_days_with_the_clock_driven_minute_by_minute(
    rq_sync: RedisQ, raw: redis.Redis, queue: str
) -> None:
    """The real claim path, called every minute of both DST days' nights: one job each night."""
    task = rq_sync.task(noop)
    for day in (29, 25):
        month = 3 if day == 29 else 10
        sid = f"night-{month}"
        t = paris(2026, month, day - 1, 22, 0)
        rq_sync.schedules.upsert_sync(task, cron="30 2 * * *", tz="Europe/Paris", id=sid, now_ms=t)
        claimed = []
        while t < paris(2026, month, day, 6, 0):
            t += MINUTE
            claimed += rq_sync.schedules.claim_due_sync(now_ms=t)
        assert len(claimed) == 1, claimed
        run = datetime.fromtimestamp(claimed[0].tick_ms / 1000, PARIS)
        assert (run.day, run.hour, run.minute) == ((day, 3, 0) if month == 3 else (day, 2, 30))
        assert run.utcoffset() == (timedelta(hours=2))  # summer time: before the gap / the first 02:30
        rq_sync.schedules.delete_sync(sid)
        assert rq_sync.schedules.list_sync() == []
    assert sum(ticks_of(raw, rq_sync, queue).values()) == 2


async def test_concurrent_claims_write_one_job_per_tick(rq: RedisQ, redis_url: str, queue: str) -> None:
    """Twenty clients claim the same due tick at once: one job."""
    task = rq.task(noop)
    t0 = 1_900_000_000_000
    await rq.schedules.upsert(task, every=10, id="race", now_ms=t0)
    clients = [RedisQ(redis_url, prefix=rq.settings.prefix, default_queue=queue) for _ in range(20)]
    try:
        for n in range(1, 6):
            results = await asyncio.gather(
                *(c.schedules.claim_due([queue], now_ms=t0 + n * 10_000 + 5) for c in clients)
            )
            claimed = [c for r in results for c in r]
            assert [c.tick_ms for c in claimed] == [t0 + n * 10_000]
    finally:
        for c in clients:
            await c.aclose()
    assert (await rq.stats(queue)).counters["enqueued"] == 5  # each tick counts as an enqueue


async def test_a_tick_writes_the_record_an_enqueue_writes(rq: RedisQ, raw: redis.Redis, queue: str) -> None:
    task = rq.task(retries=2, priority=5, result_ttl=90, max_concurrency=3)(add)
    t0 = rq.now_ms()
    await rq.schedules.upsert(task, every=60, args=[1], kwargs={"b": 2}, id="sum", now_ms=t0)
    [claimed] = await rq.schedules.claim_due(now_ms=t0 + 60_000)
    enqueued = await task.with_options(key="k").enqueue(1, b=2)
    k = rq.queue_keys(queue)
    tick = raw.hgetall(k.job(claimed.job_id.split(":")[1]))
    plain = raw.hgetall(k.job(enqueued.uid))
    assert tick.keys() == plain.keys()
    same = {b"priority", b"max_attempts", b"result_ttl", b"state", b"limits"}
    assert {f: tick.get(f) for f in same} == {f: plain.get(f) for f in same}
    assert record_payload(tick) == record_payload(plain)  # whole or in the same pieces
    assert tick[b"unique_key"] == f"schedule:sum:{t0 + 60_000}".encode()
    async with running_worker(rq):
        assert await rq.job(claimed.job_id).result(timeout=10) == 3


def test_pause_resume_and_run_now(rq_sync: RedisQ, raw: redis.Redis, queue: str) -> None:
    task = rq_sync.task(noop)
    t0 = 1_900_000_000_000
    rq_sync.schedules.upsert_sync(task, every=60, id="p", now_ms=t0)
    rq_sync.schedules.pause_sync("p")
    assert rq_sync.schedules.get_sync("p").paused
    assert rq_sync.schedules.claim_due_sync(now_ms=t0 + 10 * MINUTE) == []  # paused: no tick
    job = rq_sync.schedules.run_now_sync("p", now_ms=t0 + 10 * MINUTE)  # run now works while paused
    assert job.info_sync().state.value == "queued"
    info = rq_sync.schedules.get_sync("p")
    assert (info.last_run_ms, info.last_job_uid, info.next_ms) == (t0 + 10 * MINUTE, job.uid, t0 + MINUTE)

    rq_sync.schedules.resume_sync("p", now_ms=t0 + 10 * MINUTE + 30_000)
    info = rq_sync.schedules.get_sync("p")
    assert not info.paused
    assert info.next_ms == t0 + 11 * MINUTE  # from now on: the paused time is not caught up
    assert rq_sync.schedules.claim_due_sync(now_ms=t0 + 10 * MINUTE + 40_000) == []
    [tick] = rq_sync.schedules.claim_due_sync(now_ms=t0 + 11 * MINUTE)
    assert tick.tick_ms == t0 + 11 * MINUTE
    # run now did not move the regular tick, and wrote its own job
    assert sorted(ticks_of(raw, rq_sync, queue).values()) == [1, 1]


def test_catch_up_after_a_long_gap(rq_sync: RedisQ, raw: redis.Redis, queue: str) -> None:
    task = rq_sync.task(noop)
    t0 = 1_900_000_000_000
    for sid, catch_up in (("last", "last"), ("skip", "skip")):
        rq_sync.schedules.upsert_sync(task, every=timedelta(hours=1), id=sid, catch_up=catch_up, now_ms=t0)
    later = t0 + 5 * HOUR + 10 * MINUTE  # no worker for five hours
    claimed = rq_sync.schedules.claim_due_sync(now_ms=later)
    assert [(c.schedule_id, c.tick_ms) for c in claimed] == [("last", t0 + 5 * HOUR)]  # once, the latest
    for sid in ("last", "skip"):
        assert rq_sync.schedules.get_sync(sid).next_ms == t0 + 6 * HOUR  # the first tick after now
    assert rq_sync.schedules.claim_due_sync(now_ms=later + 1000) == []
    assert sum(ticks_of(raw, rq_sync, queue).values()) == 1


def test_upsert_is_idempotent_and_a_change_recomputes(rq_sync: RedisQ, queue: str) -> None:
    task = rq_sync.task(add)
    t0 = 1_900_000_000_000
    assert rq_sync.schedules.upsert_sync(task, every=60, args=[1], id="u", now_ms=t0) == "created"
    first = rq_sync.schedules.get_sync("u")
    # the same definition later (a restart, a deploy): nothing moves
    assert rq_sync.schedules.upsert_sync(task, every=60, args=[1], id="u", now_ms=t0 + 30_000) == "unchanged"
    assert rq_sync.schedules.get_sync("u") == first
    rq_sync.schedules.claim_due_sync(now_ms=t0 + 60_000)
    # a new definition: the next run is computed again, the last run is kept
    assert rq_sync.schedules.upsert_sync(task, every=600, args=[2], id="u", now_ms=t0 + 90_000) == "updated"
    changed = rq_sync.schedules.get_sync("u")
    assert changed.args == [2]
    assert changed.next_ms == t0 + 600_000  # from the same anchor
    assert changed.last_run_ms == t0 + 60_000
    assert [s.id for s in rq_sync.schedules.list_sync()] == ["u"]


def test_declared_schedules_sync_at_start_and_removed_ones_go(
    redis_url: str, prefix: str, queue: str
) -> None:
    def client() -> RedisQ:
        return RedisQ(redis_url, prefix=prefix, default_queue=queue)

    old, new = client(), client()
    try:
        t0 = 1_900_000_000_000
        for rq in (old, new):
            rq.task(name="keep", schedule=timedelta(minutes=5))(noop)
        old.task(name="gone", schedule="0 3 * * *")(noop)
        assert old.schedules.sync_declared_sync(now_ms=t0)[0] == {"keep": "created", "gone": "created"}
        new.schedules.upsert_sync("keep", every=60, id="from-api", now_ms=t0)
        keep_next = new.schedules.get_sync("keep").next_ms
        # the next deploy no longer declares "gone": removed; "keep" unchanged; the api's stays
        changes, removed = new.schedules.sync_declared_sync(now_ms=t0 + 1000)
        assert changes == {"keep": "unchanged"}
        assert [s.id for s in removed] == ["gone"]
        listed = {s.id: s.origin for s in new.schedules.list_sync()}
        assert listed == {"keep": "code", "from-api": "api"}
        assert new.schedules.get_sync("keep").next_ms == keep_next
    finally:
        old.close()
        new.close()


def test_unknown_ids_and_frozen_registry(rq_sync: RedisQ) -> None:
    for action in (
        rq_sync.schedules.pause_sync,
        rq_sync.schedules.resume_sync,
        rq_sync.schedules.run_now_sync,
        rq_sync.schedules.delete_sync,
        rq_sync.schedules.get_sync,
    ):
        with pytest.raises(ScheduleNotFound):
            action("nope")
    task = rq_sync.task(noop)
    rq_sync.freeze("worker w1")
    with pytest.raises(RegistryFrozen):
        rq_sync.schedule(task, every=60)


async def test_a_worker_runs_declared_schedules(rq: RedisQ, queue: str) -> None:
    """End to end with an embedded worker and a real clock: a 1 s schedule runs, once per tick."""
    done: list[float] = []

    @rq.task(schedule=timedelta(seconds=1))
    def beat() -> None:
        done.append(1)

    async with running_worker(rq):
        for _ in range(100):
            if len(done) >= 3:
                break
            await asyncio.sleep(0.1)
    assert len(done) >= 3
    listed = await rq.schedules.list()
    assert listed[0].last_job_uid is not None and listed[0].origin == "code"


def test_flask_tasks_take_a_schedule(redis_url: str, prefix: str, queue: str) -> None:
    from flask import Flask, current_app

    from redisq.flask import RedisQ as FlaskRedisQ

    extension = FlaskRedisQ(health_url=None)
    with pytest.raises(ConfigurationError, match="unknown time zone"):  # at decoration, before any app
        extension.task(queue, schedule="0 2 * * *", tz="Europe/Pariss")(noop)

    @extension.task(queue, name="flask.nightly", schedule="30 2 * * *", tz="Europe/Paris")
    def nightly() -> str:
        return str(current_app.name)

    app = Flask("scheduled-app")
    app.config.update(REDISQ_URL=redis_url, REDISQ_PREFIX=prefix)
    extension.init_app(app)
    rq: RedisQ = app.extensions["redisq"].client
    try:
        assert list(rq.declared_schedules) == ["flask.nightly"]
        t = paris(2026, 3, 28, 12, 0)
        assert rq.schedules.sync_declared_sync(now_ms=t)[0] == {"flask.nightly": "created"}
        [claimed] = rq.schedules.claim_due_sync(now_ms=paris(2026, 3, 29, 3, 0))
        assert rq.job(claimed.job_id).info_sync().task == "flask.nightly"
    finally:
        rq.close()
