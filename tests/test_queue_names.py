"""A queue name that cannot be used is an error where it is given, never a silent fallback (issue 11)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from redisq import ConfigurationError, InvalidArguments, RedisQ
from redisq.core.keys import QUEUE_NAME_RULE
from redisq.flask import RedisQ as FlaskRedisQ

from .test_cli import redisq_cli

ROOT = Path(__file__).resolve().parent.parent

# Each breaks one part of the rule: empty, the CLI's separator, a URL's, the Cluster hash tag's braces,
# a space, the dashboard's leading '_', too long.
BAD = ["", "a,b", "a/b", "{a}", "a b", "_events", "q" * 129]
GOOD = ["emails", "reports.v2", "tenant:42", "low-priority", "x_y", "9", "q" * 128]


async def count_keys(rq: RedisQ) -> int:
    client = rq.backend().client
    return len([k async for k in client.scan_iter(match=f"{rq.settings.prefix}:*", count=1000)])


@pytest.mark.parametrize("name", BAD)
async def test_a_task_declared_on_an_unusable_queue_is_refused(rq: RedisQ, name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"queue {name!r} is not usable") as refused:

        @rq.task(queue=name)
        async def job() -> None:
            return None

    assert QUEUE_NAME_RULE in str(refused.value)


@pytest.mark.parametrize("name", BAD)
async def test_per_call_options_naming_an_unusable_queue_are_refused(rq: RedisQ, name: str) -> None:
    @rq.task
    async def job() -> None:
        return None

    with pytest.raises(ConfigurationError, match=QUEUE_NAME_RULE):
        await job.with_options(queue=name).enqueue()
    with pytest.raises(InvalidArguments, match=QUEUE_NAME_RULE):  # the admin API's enqueue by name
        rq.call_by_name(job.name, queue=name)
    assert await count_keys(rq) == 0


async def test_usable_names_are_taken_as_they_are(rq: RedisQ) -> None:
    @rq.task(queue="emails")
    async def job() -> None:
        return None

    assert job.queue == "emails"
    for name in GOOD:
        assert (await job.with_options(queue=name).enqueue()).queue == name


def test_the_worker_command_refuses_a_list_with_an_unusable_name() -> None:
    done = redisq_cli("worker", "tests.cliapp:rq", "--queues", "a,b/c", env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 2, done.stdout
    assert "'b/c' is not usable" in done.stderr
    assert QUEUE_NAME_RULE in " ".join(done.stderr.split())  # click may wrap the line


@pytest.mark.parametrize("value", ["", "a,", "a,,b", "a, _b"])
def test_the_cli_drops_no_name_silently(value: str) -> None:
    from click.testing import CliRunner

    from redisq.cli import main

    for command in ("worker", "stats"):
        result = CliRunner().invoke(main, [command, "tests.cliapp:rq", "--queues", value])
        assert result.exit_code == 2, result.output
        assert "is not usable" in result.output


@pytest.fixture
def flask_app(redis_url: str, prefix: str) -> Iterator[Flask]:
    app = Flask("queue_names")
    app.config.update(REDISQ_URL=redis_url, REDISQ_PREFIX=prefix, REDISQ_QUEUES=" emails, reports ")
    extension = FlaskRedisQ(app)
    app.extensions["test"] = extension
    yield app
    app.extensions["redisq"].client.close()


def test_flask_worker_command_refuses_an_unusable_name(flask_app: Flask) -> None:
    assert flask_app.extensions["redisq"].worker_queues == ["emails", "reports"]
    result = flask_app.test_cli_runner().invoke(args=["redisq", "worker", "--queues", "a,b/c"])
    assert result.exit_code == 2, result.output
    assert "'b/c' is not usable" in result.output and QUEUE_NAME_RULE in " ".join(result.output.split())


@pytest.mark.parametrize("value", ["a,b/c", "emails,", ["emails", ""], ("{x}",), 5])
def test_flask_config_refuses_an_unusable_queue_list(redis_url: str, prefix: str, value: object) -> None:
    app = Flask("bad_queues")
    app.config.update(REDISQ_URL=redis_url, REDISQ_PREFIX=prefix, REDISQ_QUEUES=value)
    with pytest.raises(ConfigurationError, match="REDISQ_QUEUES"):
        FlaskRedisQ(app)


def test_a_flask_task_on_an_unusable_queue_is_refused(flask_app: Flask) -> None:
    extension: FlaskRedisQ = flask_app.extensions["test"]
    with pytest.raises(ConfigurationError, match=QUEUE_NAME_RULE):

        @extension.task("")
        def job() -> None:
            return None
