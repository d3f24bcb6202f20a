"""Settings from arguments, REDISQ_* variables and a config file (redisq.toml, [tool.redisq] of
pyproject.toml, or --config), in that order of precedence; errors that name the setting and its source;
`redisq config` showing each effective value and where it came from, secrets masked (issue 14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from redisq import RedisQ
from redisq.cli import main
from redisq.core.config_file import load_config
from redisq.core.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent

TOML = """
app = "myapp:rq"
[client]
url = "redis://app:hunter2@redis.internal:6380/2"
prefix = "fromfile"
signing_key = "file-secret"
health_timeout_s = 0.25
[worker]
concurrency = 20
lease_s = 30
queues = ["emails:5", "reports"]
"""


def test_precedence_is_args_then_env_then_file_then_defaults(tmp_path: Path) -> None:
    (tmp_path / "redisq.toml").write_text(TOML)
    env = {"REDISQ_CONCURRENCY": "12", "REDISQ_PREFIX": "fromenv"}
    found = load_config({"worker.concurrency": 40}, environ=env, cwd=tmp_path)
    assert found.worker.concurrency == 40 and str(found.origins["worker.concurrency"]) == "arg"
    found = load_config({}, environ=env, cwd=tmp_path)
    assert (
        found.worker.concurrency == 12
        and str(found.origins["worker.concurrency"]) == "env (REDISQ_CONCURRENCY)"
    )
    assert found.settings.prefix == "fromenv"
    assert found.worker.lease_s == 30.0 and found.origins["worker.lease_s"].kind == "file"
    assert found.settings.signing_key == b"file-secret" and found.settings.health_timeout_s == 0.25
    assert found.queues == "emails:5,reports" and found.app == "myapp:rq"
    assert (
        found.worker.shutdown_grace_s == 25.0 and found.origins["worker.shutdown_grace_s"].kind == "default"
    )
    assert found.file == tmp_path / "redisq.toml"
    (tmp_path / "empty").mkdir()
    nothing = load_config({}, environ={}, cwd=tmp_path / "empty")
    assert nothing.file is None and nothing.settings.url is None and nothing.worker.concurrency == 10


def test_env_covers_worker_settings_and_redis_url(tmp_path: Path) -> None:
    env = {
        "REDIS_URL": "redis://plain:6379/0",
        "REDISQ_LEASE_S": "20",
        "REDISQ_SHUTDOWN_GRACE_S": "5",
        "REDISQ_QUEUES": "a,b:2",
        "REDISQ_APP": "svc:rq",
        "REDISQ_ALLOW_EVICTION": "yes",
    }
    found = load_config({}, environ=env, cwd=tmp_path)
    assert found.settings.url == "redis://plain:6379/0" and found.origins["client.url"].name == "REDIS_URL"
    assert (found.worker.lease_s, found.worker.shutdown_grace_s) == (20.0, 5.0)
    assert (found.queues, found.app, found.settings.allow_eviction) == ("a,b:2", "svc:rq", True)
    found = load_config({}, environ={**env, "REDISQ_URL": "redis://mine:1/0"}, cwd=tmp_path)
    assert found.settings.url == "redis://mine:1/0"  # REDISQ_URL before REDIS_URL, as RedisQ() reads them


def test_pyproject_tool_table_and_an_explicit_path(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.redisq.worker]\nconcurrency = 7\n')
    assert load_config(environ={}, cwd=tmp_path).worker.concurrency == 7
    (tmp_path / "redisq.toml").write_text("[worker]\nconcurrency = 8\n")  # redisq.toml comes first
    assert load_config(environ={}, cwd=tmp_path).worker.concurrency == 8
    other = tmp_path / "staging.toml"
    other.write_text("[worker]\nconcurrency = 9\n")
    assert load_config(environ={}, config_path=other, cwd=tmp_path).worker.concurrency == 9
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config(environ={}, config_path=tmp_path / "missing.toml")
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / "redisq.toml").unlink()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')  # no [tool.redisq]: no file
    assert load_config(environ={}, cwd=tmp_path).file is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[worker]\nconcurrency = "ten"\n', "redisq.toml: worker.concurrency must be an integer, got 'ten'"),
        ("[worker]\nconcurency = 3\n", "redisq.toml: unknown setting 'worker.concurency'"),
        ("colour = 3\n", "redisq.toml: unknown setting 'colour'"),
        ("[client]\nallow_eviction = 1\n", "redisq.toml: client.allow_eviction must be true or false"),
        ("[worker]\nlease_s = true\n", "redisq.toml: worker.lease_s must be a number"),
        ("[worker]\nqueues = 3\n", "redisq.toml: worker.queues must be a string or a list of strings"),
        ("client = 3\n", "redisq.toml: client must be a table"),
        ("[worker\n", "redisq.toml: not valid TOML"),
        (
            "[worker]\nlease_s = 3\nrenew_every_s = 5\n",
            "renew_every_s from file \\(redisq.toml: worker.renew",
        ),
        ('[client]\nprefix = ""\n', "Settings.prefix must be non-empty.*client.prefix from file"),
    ],
)
def test_file_mistakes_name_the_setting_and_the_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "redisq.toml").write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_config(environ={}, cwd=tmp_path)


def test_env_mistakes_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="REDISQ_CONCURRENCY must be an integer, got 'x'"):
        load_config(environ={"REDISQ_CONCURRENCY": "x"}, cwd=tmp_path)
    with pytest.raises(ConfigurationError, match=r"WorkerSettings.concurrency must be at least 1.*env"):
        load_config(environ={"REDISQ_CONCURRENCY": "0"}, cwd=tmp_path)


def test_config_command_shows_sources_and_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "redisq.toml").write_text(TOML)
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("REDISQ_") or n == "REDIS_URL"]:
        monkeypatch.delenv(name)
    env = {"REDISQ_LEASE_S": "45", "COLUMNS": "200"}
    done = CliRunner().invoke(main, ["config", "--json"], env=env)
    assert done.exit_code == 0, done.output
    shown = json.loads(done.stdout)
    settings = shown["settings"]
    assert shown["file"] == str(tmp_path / "redisq.toml")
    assert settings["client.url"] == {
        "value": "redis://app:***@redis.internal:6380/2",
        "source": "file",
        "from": "redisq.toml: client.url",
    }
    assert settings["client.signing_key"]["value"] == "***"
    assert settings["worker.lease_s"] == {"value": 45.0, "source": "env", "from": "REDISQ_LEASE_S"}
    assert settings["worker.concurrency"]["source"] == "file"
    assert settings["client.dead_max"] == {"value": 10000, "source": "default", "from": ""}
    assert "hunter2" not in done.stdout and "file-secret" not in done.stdout
    url = CliRunner().invoke(main, ["--url", "redis://u:pw@h:1/0", "config", "--json"], env=env)
    assert json.loads(url.stdout)["settings"]["client.url"]["source"] == "arg"
    table = CliRunner().invoke(main, ["config"], env=env)
    row = next(line for line in table.stdout.splitlines() if "worker.lease_s" in line)
    assert "45.0" in row and "env (REDISQ_LEASE_S)" in row
    (tmp_path / "redisq.toml").write_text('[worker]\nconcurrency = "ten"\n')
    bad = CliRunner().invoke(main, ["config"], env=env)
    assert bad.exit_code == 2 and "redisq.toml: worker.concurrency must be an integer" in bad.output


def test_worker_takes_its_app_and_settings_from_the_file(
    tmp_path: Path, redis_url: str, prefix: str, queue: str
) -> None:
    (tmp_path / "redisq.toml").write_text(
        f'app = "tests.cliapp:rq"\n[worker]\nconcurrency = 3\nqueues = "{queue}"\n'
    )
    rq = RedisQ(redis_url, prefix=prefix, default_queue=queue)
    try:
        env = {
            **os.environ,
            "REDISQ_URL": redis_url,
            "REDISQ_PREFIX": prefix,
            "CLI_QUEUE": queue,
            "PYTHONPATH": str(ROOT),
        }
        command = [sys.executable, "-m", "redisq.cli", "worker", "--burst"]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f"serving {queue} with concurrency 3" in done.stderr  # the app, queues and concurrency
        done = subprocess.run(
            [*command, "--concurrency", "5"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (
            done.returncode == 0 and f"serving {queue} with concurrency 5" in done.stderr
        )  # the option wins
        (tmp_path / "redisq.toml").write_text("[worker]\nconcurrency = 0\n")
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "concurrency" in done.stderr
        (tmp_path / "redisq.toml").write_text("")
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "no app to run" in done.stderr
    finally:
        rq.close()
