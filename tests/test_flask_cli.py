"""The operator commands through `flask redisq` (issue 14): the same commands as `redisq`, on the client of
the app that `flask` loads (its config), with the same output, `--json` and exit codes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import Result
from flask import Flask

from redisq import JobState, RedisQ

from .conftest import running_worker
from .flaskapp import always_fails, build_report, create_app


@pytest.fixture
def app(redis_url: str, prefix: str) -> Iterator[Flask]:
    app = create_app(REDISQ_URL=redis_url, REDISQ_PREFIX=prefix)
    yield app
    app.extensions["redisq"].client.close()


def flask_cli(app: Flask, *args: str, input: str | None = None) -> Result:
    return app.test_cli_runner().invoke(args=["redisq", *args], input=input, env={"COLUMNS": "200"})


def parsed(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def run_until_done(rq: RedisQ, jobs: int) -> None:
    try:
        async with running_worker(rq, queues=["reports"]):
            for _ in range(200):
                stats = await rq.stats("reports")
                if stats.succeeded + stats.dead == jobs:
                    return
                await asyncio.sleep(0.05)
        raise AssertionError("jobs did not finish")
    finally:
        await rq.aclose()


def test_flask_redisq_operator_commands(app: Flask) -> None:
    rq: RedisQ = app.extensions["redisq"].client
    with app.app_context():
        done = build_report.delay(1)
        dead = always_fails.delay(2)
    asyncio.run(run_until_done(rq, 2))
    assert dead.info_sync().state is JobState.DEAD

    [reports] = parsed(flask_cli(app, "queues", "--json"))["queues"]
    assert (reports["queue"], reports["dead"], reports["counters"]["succeeded"]) == ("reports", 1, 1)
    assert "reports" in flask_cli(app, "queues").stdout

    page = parsed(flask_cli(app, "jobs", "reports", "--state", "dead", "--json"))
    assert [j["id"] for j in page["items"]] == [dead.id]
    shown = flask_cli(app, "job", dead.id)
    assert shown.exit_code == 0 and "traceback:" in shown.stdout and "cannot be built" in shown.stdout
    assert parsed(flask_cli(app, "job", done.id, "--json"))["state"] == "succeeded"
    assert flask_cli(app, "job", "reports:nosuchuid").exit_code == 1

    assert parsed(flask_cli(app, "retry", dead.id, "--json")) == {"id": dead.id, "action": "retried"}
    assert flask_cli(app, "retry", dead.id).exit_code == 1  # queued now
    assert flask_cli(app, "cancel", dead.id).stdout == f"cancelled {dead.id}\n"
    assert flask_cli(app, "delete", dead.id).exit_code == 0

    assert flask_cli(app, "pause", "reports").stdout == "paused reports\n"
    assert rq.stats_sync("reports").paused
    assert parsed(flask_cli(app, "resume", "reports", "--json"))["paused"] is False
    assert flask_cli(app, "purge", "reports", "--state", "succeeded", input="n\n").exit_code == 1
    assert (
        parsed(flask_cli(app, "purge", "reports", "--state", "succeeded", "--yes", "--json"))["deleted"] == 1
    )
    assert parsed(flask_cli(app, "workers", "--json")) == {"workers": []}
    view = flask_cli(app, "monitor", "--once", "--interval", "0.1")
    assert view.exit_code == 0 and "redisq monitor" in view.stdout and "reports" in view.stdout
    # the commands that were there keep working beside them
    assert flask_cli(app, "stats").exit_code == 0
    assert flask_cli(app, "requeue-dead", "reports").stdout == "requeued 0 jobs\n"
