"""Configuration: arguments, else REDISQ_* environment variables, else defaults; bad values refused."""

from __future__ import annotations

import pytest

from redisq import ConfigurationError, RedisQ, Settings, WorkerSettings


def test_environment_fills_what_arguments_leave_out() -> None:
    env = {
        "REDIS_URL": "redis://fallback/1",
        "REDISQ_RESULT_TTL_S": "5",
        "REDISQ_PREFIX": "app",
        "REDISQ_SIGNING_KEY": "k",
    }
    s = Settings.from_env(env, prefix="explicit")
    assert (s.url, s.result_ttl_s, s.prefix, s.signing_key) == ("redis://fallback/1", 5, "explicit", b"k")
    assert Settings.from_env({"REDISQ_URL": "redis://a/0", "REDIS_URL": "redis://b/0"}).url == "redis://a/0"
    assert "signing_key" not in repr(s) and "b'k'" not in repr(s)


def test_client_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDISQ_URL", "redis://from-env:6379/2")
    monkeypatch.setenv("REDISQ_DEFAULT_QUEUE", "jobs")
    rq = RedisQ()
    assert (rq.url, rq.settings.default_queue) == ("redis://from-env:6379/2", "jobs")
    assert RedisQ("redis://given/0").url == "redis://given/0"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDISQ_DEAD_MAX": "many"}, "REDISQ_DEAD_MAX must be an integer"),
        ({"REDISQ_RESULT_TTL_S": "0"}, "result_ttl_s must be positive"),
        ({"REDISQ_PREFIX": "a{b}"}, "no braces"),
    ],
)
def test_bad_values_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)


def test_worker_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError):
        WorkerSettings(concurrency=0)
    with pytest.raises(ConfigurationError, match="renewed more often"):
        WorkerSettings(lease_s=3, renew_every_s=3)
    assert WorkerSettings(lease_s=9).renew_interval_s == 3
