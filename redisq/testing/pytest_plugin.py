"""The pytest plugin of redisq.testing: enable it in your conftest.py with
`pytest_plugins = ["redisq.testing.pytest_plugin"]`. Nothing starts unless a test asks for a fixture.

- `redisq_url` (session): a throwaway Redis on a free loopback port, started on first use and stopped at
  the end of the session (`redisq_server`); `REDISQ_TEST_URL` names a server to use instead.
- `redisq_prefix`: a fresh key prefix per test, so tests never see each other's jobs (nothing is
  flushed: the server may be shared).
- `redisq_env`: REDISQ_URL and REDISQ_PREFIX set to those for the test, for clients the test builds
  (app factories, the Flask extension's `init_app`).
- `redisq_isolate`: a function that points an existing client (your app's module-level `rq`) at them
  for the test, with its clock and eager mode reset; the client is pointed back afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from redisq.core.client import RedisQ
from redisq.core.embedded import EmbeddedServer, free_port, start_embedded


@pytest.fixture(scope="session")
def redisq_server() -> Iterator[EmbeddedServer]:
    server = start_embedded(port=free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redisq_url(request: pytest.FixtureRequest) -> str:
    given = os.environ.get("REDISQ_TEST_URL")
    if given:
        return given
    server: EmbeddedServer = request.getfixturevalue("redisq_server")
    return server.url


@pytest.fixture
def redisq_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redisq_env(redisq_url: str, redisq_prefix: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("REDISQ_URL", redisq_url)
    monkeypatch.setenv("REDISQ_PREFIX", redisq_prefix)
    return {"REDISQ_URL": redisq_url, "REDISQ_PREFIX": redisq_prefix}


@pytest.fixture
def redisq_isolate(redisq_url: str, redisq_prefix: str) -> Iterator[Callable[[RedisQ], RedisQ]]:
    pointed: list[tuple[RedisQ, str | None, str]] = []

    def isolate(rq: RedisQ) -> RedisQ:
        pointed.append((rq, rq.settings.url, rq.settings.prefix))
        rq.retarget(redisq_url, prefix=redisq_prefix)
        rq.clock_offset_ms, rq.eager = 0, None
        return rq

    yield isolate
    for rq, url, prefix in reversed(pointed):
        rq.retarget(url, prefix=prefix)
        rq.clock_offset_ms, rq.eager = 0, None
