"""The operator commands of `redisq` (issue 14), run with click's CliRunner against the suite's Redis: what
each prints, its `--json` (parsed), and its exit code (0 done, 1 not found or refused, 2 usage)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from click.testing import CliRunner, Result

from redisq import JobState, RedisQ
from redisq.cli import main

from .conftest import running_worker


@pytest.fixture
def rq(redis_url: str, prefix: str, queue: str) -> Iterator[RedisQ]:  # type: ignore[override]
    client = RedisQ(redis_url, prefix=prefix, default_queue=queue)

    @client.task(name="ops.ok", retries=0)
    def ok(i: int) -> int:
        return i

    @client.task(name="ops.boom", retries=0)
    def boom(i: int) -> None:
        raise RuntimeError(f"boom {i}")

    yield client
    client.close()


def cli(rq: RedisQ, *args: str, input: str | None = None) -> Result:
    """`redisq --url URL <args>` with the test's prefix from the environment, as an operator would."""
    url = rq.settings.url
    assert url is not None
    return CliRunner().invoke(
        main, ["--url", url, *args], env={"REDISQ_PREFIX": rq.settings.prefix, "COLUMNS": "200"}, input=input
    )


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def drained(rq: RedisQ, queue: str, jobs: int) -> None:
    try:
        async with running_worker(rq, queues=[queue]):
            for _ in range(200):
                stats = await rq.stats(queue)
                if stats.succeeded + stats.dead == jobs:
                    return
                await asyncio.sleep(0.05)
        raise AssertionError("the jobs did not finish")
    finally:
        await rq.aclose()


def with_dead_and_done(rq: RedisQ, queue: str) -> list[str]:
    """Three jobs that succeed and two that die; returns the dead ones' ids."""
    rq.enqueue_many_sync([rq.get_task("ops.ok").call(i) for i in range(3)])
    dead = rq.enqueue_many_sync([rq.get_task("ops.boom").call(i) for i in range(2)])
    asyncio.run(drained(rq, queue, 5))
    return [job.id for job in dead]


def test_queues_table_and_json(rq: RedisQ, queue: str) -> None:
    with_dead_and_done(rq, queue)
    rq.enqueue_many_sync([rq.get_task("ops.ok").call(i) for i in range(4)])
    table = cli(rq, "queues")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if queue in line)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells[:8] == [queue, "4", "0", "0", "0", "3", "2", "2"]  # queued ... succeeded, failed, dead
    [summary] = [q for q in as_json(cli(rq, "queues", "--json"))["queues"] if q["queue"] == queue]
    assert (summary["queued"], summary["dead"], summary["counters"]["succeeded"]) == (4, 2, 3)


def test_jobs_listing_filters_by_state_and_task(rq: RedisQ, queue: str) -> None:
    dead = with_dead_and_done(rq, queue)
    rq.enqueue_many_sync([rq.get_task("ops.ok").call(9), rq.get_task("ops.boom").call(9)])
    page = as_json(cli(rq, "jobs", queue, "--state", "dead", "--json"))
    assert {j["id"] for j in page["items"]} == set(dead) and page["total"] == 2 and page["state"] == "dead"
    queued = as_json(cli(rq, "jobs", queue, "--task", "ops.boom", "--json"))
    assert [j["task"] for j in queued["items"]] == ["ops.boom"] and queued["items"][0]["args"] == [9]
    one = as_json(cli(rq, "jobs", queue, "--state", "succeeded", "--limit", "1", "--json"))
    assert len(one["items"]) == 1 and one["total"] == 3
    table = cli(rq, "jobs", queue, "--state", "dead")
    assert table.exit_code == 0 and all(i in table.stdout for i in dead)
    assert "RuntimeError: boom" in table.stdout
    assert cli(rq, "jobs", "no-such-queue").exit_code == 1
    bad = cli(rq, "jobs", queue, "--state", "failed")
    assert bad.exit_code == 2 and "'failed' is not one of" in bad.output


def test_job_shows_the_record_and_the_traceback(rq: RedisQ, queue: str) -> None:
    [first, _] = with_dead_and_done(rq, queue)
    shown = cli(rq, "job", first)
    assert shown.exit_code == 0, shown.output
    assert "ops.boom" in shown.stdout and "dead" in shown.stdout
    assert "traceback:" in shown.stdout and 'raise RuntimeError(f"boom {i}")' in shown.stdout
    body = as_json(cli(rq, "job", first, "--json"))
    assert body["state"] == "dead" and body["error"]["type"] == "RuntimeError"
    missing = cli(rq, "job", f"{queue}:nosuchuid")
    assert missing.exit_code == 1 and "no job" in missing.stderr
    garbled = cli(rq, "job", "not-an-id", "--json")
    assert garbled.exit_code == 1 and json.loads(garbled.stdout)["error"] == "job_not_found"


def test_job_actions_and_their_exit_codes(rq: RedisQ, queue: str) -> None:
    [first, second] = with_dead_and_done(rq, queue)
    assert as_json(cli(rq, "retry", first, "--json")) == {"id": first, "action": "retried"}
    assert rq.job(first).info_sync().state is JobState.QUEUED
    refused = cli(rq, "retry", first)  # it is queued now
    assert refused.exit_code == 1 and "it is queued" in refused.stderr
    assert cli(rq, "cancel", first).stdout == f"cancelled {first}\n"
    assert rq.job(first).info_sync().state is JobState.CANCELLED
    assert cli(rq, "delete", second).exit_code == 0
    assert cli(rq, "delete", second).exit_code == 1  # gone
    waiting = rq.get_task("ops.ok").with_options(delay_s=600).delay(1)
    assert as_json(cli(rq, "abort", waiting.id, "--json"))["action"] == "aborted"
    assert waiting.info_sync().state is JobState.CANCELLED


def test_purge_asks_unless_yes(rq: RedisQ, queue: str) -> None:
    with_dead_and_done(rq, queue)
    declined = cli(rq, "purge", queue, "--state", "dead", input="n\n")
    assert declined.exit_code == 1 and rq.stats_sync(queue).dead == 2
    accepted = cli(rq, "purge", queue, "--state", "dead", input="y\n")
    assert accepted.exit_code == 0 and "deleted 2 dead jobs" in accepted.stdout
    assert as_json(cli(rq, "purge", queue, "--state", "succeeded", "--yes", "--json")) == {
        "queue": queue,
        "state": "succeeded",
        "deleted": 3,
    }
    assert cli(rq, "purge", "no-such-queue", "--state", "dead", "--yes").exit_code == 1
    assert cli(rq, "purge", queue, "--state", "active", "--yes").exit_code == 2
    assert cli(rq, "purge", queue).exit_code == 2  # the state is never implied


def test_pause_and_resume(rq: RedisQ, queue: str) -> None:
    rq.get_task("ops.ok").delay(1)
    assert cli(rq, "pause", queue).stdout == f"paused {queue}\n"
    assert rq.stats_sync(queue).paused
    assert f"{queue} (paused)" in cli(rq, "queues").stdout
    assert as_json(cli(rq, "resume", queue, "--json")) == {"queue": queue, "paused": False}
    assert not rq.stats_sync(queue).paused
    assert cli(rq, "pause", "no-such-queue").exit_code == 1


async def test_workers_and_monitor_show_a_live_worker(rq: RedisQ, queue: str) -> None:
    try:
        await workers_and_monitor(rq, queue)
    finally:
        await rq.aclose()


async def workers_and_monitor(rq: RedisQ, queue: str) -> None:
    async with running_worker(rq, queues=[queue]) as worker:
        for _ in range(100):  # its first heartbeat
            if await rq.workers():
                break
            await asyncio.sleep(0.05)
        listed = await asyncio.to_thread(cli, rq, "workers", "--json")
        assert [w["id"] for w in as_json(listed)["workers"]] == [worker.id]
        await rq.enqueue_many([rq.get_task("ops.ok").call(i) for i in range(50)])
        view = await asyncio.to_thread(cli, rq, "monitor", "--once", "--interval", "0.5")
        assert view.exit_code == 0, view.output
        assert "redisq monitor" in view.stdout and "workers 1" in view.stdout and worker.id in view.stdout
        row = next(line for line in view.stdout.splitlines() if line.startswith(f"│ {queue}"))
        assert row.split("│")[6].strip() == "50"  # succeeded
        live = await asyncio.to_thread(cli, rq, "monitor", "--iterations", "2", "--interval", "0.1")
        assert live.exit_code == 0 and queue in live.stdout
    gone = as_json(await asyncio.to_thread(cli, rq, "workers", "--json"))["workers"]
    assert worker.id not in [w["id"] for w in gone]


def test_bench_reports_rates_and_cleans_up(rq: RedisQ, redis_url: str, prefix: str) -> None:
    result = as_json(cli(rq, "bench", "--jobs", "300", "--concurrency", "20", "--batch", "100", "--json"))
    assert result["jobs"] == result["succeeded"] == 300
    assert result["enqueue_per_s"] > 0 and result["drain_per_s"] > 0
    assert result["prefix"].startswith(f"{prefix}-bench-")
    plain = redis.Redis.from_url(redis_url)
    try:
        assert list(plain.scan_iter(match=f"{prefix}*", count=1000)) == []  # nothing left behind
    finally:
        plain.close()
    text = cli(rq, "bench", "--jobs", "50")
    assert text.exit_code == 0 and "jobs/s" in text.stdout and "50 succeeded" in text.stdout


def test_operator_commands_need_a_redis_and_import_no_app(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDISQ_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["queues"], env={"REDISQ_URL": None, "REDIS_URL": None})
    assert result.exit_code == 2 and "no Redis to connect to" in result.output


def test_app_option_uses_the_apps_client(rq: RedisQ, redis_url: str, prefix: str, queue: str) -> None:
    rq.get_task("ops.ok").delay(1)
    env = {"REDISQ_URL": redis_url, "REDISQ_PREFIX": prefix, "CLI_QUEUE": queue}
    result = CliRunner().invoke(main, ["--app", "tests.cliapp:rq", "queues", "--json"], env=env)
    assert [q["queue"] for q in as_json(result)["queues"]] == [queue]


def test_worker_refuses_url_which_only_operator_commands_use() -> None:
    result = CliRunner().invoke(main, ["--url", "redis://127.0.0.1:1/0", "worker", "tests.cliapp:rq"])
    assert result.exit_code == 2 and "a worker uses its app's client" in result.output
