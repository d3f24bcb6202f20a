"""redisq.django in the test process, on the example project (examples/django_project): settings, tasks found
by autodiscovery, on-commit enqueue, a worker running ORM jobs, the request context, access to the mount,
the admin index's link, /health and the management command. Real servers: tests/test_django_servers.py."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redisq import JobState, RedisQ
from redisq.testing import drain_sync  # as the README says a Django project's tests can

from .conftest import own_server
from .djangokit import URLCONF_KEY, Urlconf, ensure_django


@pytest.fixture(scope="module")
def site(redis_url: str) -> Path:
    return ensure_django(redis_url)


@pytest.fixture
def project(site: Path) -> Iterator[RedisQ]:
    """The project's client, its queues emptied after each test."""
    from redisq.django import client

    rq = client()
    yield rq
    for queue in rq.known_queues_sync():
        for state in (JobState.QUEUED, JobState.SUCCEEDED, JobState.DEAD):
            rq.purge_sync(queue, state)


def test_settings_come_from_redisq_over_the_environment(site: Path) -> None:
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    from redisq.integrations.django.conf import read_config

    env = {"REDISQ_URL": "redis://from-env:6379/0", "REDISQ_CONCURRENCY": "7", "REDISQ_PREFIX": "envp"}
    given = {"URL": "redis://from-settings:6379/0", "QUEUES": ["emails:2", "reports"], "LEASE_S": 20}
    with override_settings(REDISQ=given):
        config = read_config(env)
    resolved = config.resolved
    assert resolved.settings.url == "redis://from-settings:6379/0"  # settings over the environment
    assert resolved.settings.prefix == "envp" and resolved.worker.concurrency == 7  # what they leave out
    assert resolved.worker.lease_s == 20.0 and resolved.queues == "emails:2,reports"
    with override_settings(REDISQ={"URL": None, "PREFIX": None}):  # os.environ.get(...) of an unset one
        assert read_config(env).resolved.settings.url == "redis://from-env:6379/0"
    with override_settings(REDISQ={"ADMIN": {"AUTH": "redisq.django.staff_access"}}):
        from redisq.django import staff_access

        assert read_config({}).admin.auth is staff_access
    for bad, says in (
        ({"CONCURENCY": 4}, "unknown setting 'CONCURENCY'"),
        ({"CONCURRENCY": "ten"}, "must be an integer, got 'ten'"),
        ({"QUEUES": "emails"}, None),  # a comma-separated string is fine too
        ({"ADMIN": {"AUTH": "no.such.module.auth"}}, "cannot import 'no.such.module.auth'"),
        ({"ADMIN": {"TRUSTED": []}}, "unknown setting 'TRUSTED'"),
        ({"IMPORTS": "shop.jobs"}, "must be a list of module names"),
    ):
        with override_settings(REDISQ=bad):
            if says is None:
                read_config({})
                continue
            with pytest.raises(ImproperlyConfigured, match=says.replace("(", r"\(")):
                read_config({})


def test_every_apps_tasks_module_is_found_at_start(project: RedisQ) -> None:
    assert {"accounts.tasks.send_welcome_email", "reports.tasks.build_report"} <= set(project.tasks)


def test_a_signup_enqueues_its_email_on_commit_and_the_worker_uses_the_orm(
    project: RedisQ, site: Path
) -> None:
    from accounts.models import Member  # type: ignore[import-not-found]
    from django.test import Client

    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    browser = Client(HTTP_X_REQUEST_ID="signup-1", HTTP_TRACEPARENT=trace)
    answer = browser.post("/signup/", {"email": "ada@example.com", "name": "Ada"})
    assert answer.status_code == 201 and answer.headers["X-Request-ID"] == "signup-1"
    member = Member.objects.get(pk=answer.json()["member"])
    [queued] = project.jobs_sync("emails", JobState.QUEUED)
    # The middleware's request id and trace context travel with the job.
    assert (queued.request_id, queued.traceparent) == ("signup-1", trace)
    job = project.job(queued.id)
    drain_sync(project, ["emails"])
    assert job.result_sync(timeout=5) == "ada@example.com"
    member.refresh_from_db()
    assert member.welcomed_at is not None  # written by the job, through the ORM, in a worker thread
    sent = [path.read_text() for path in (site / "mail").iterdir()]
    assert any("Hello Ada, welcome aboard." in text and "ada@example.com" in text for text in sent)


def test_a_rolled_back_transaction_enqueues_nothing(project: RedisQ) -> None:
    from accounts.models import Member
    from accounts.tasks import send_welcome_email  # type: ignore[import-not-found]
    from django.db import transaction

    from redisq.django import enqueue_on_commit

    class Refused(Exception):
        pass

    def sign_up_then_fail() -> None:
        with transaction.atomic():
            member = Member.objects.create(email="bob@example.com", name="Bob")
            enqueue_on_commit(send_welcome_email.call(member.pk))
            assert project.stats_sync("emails").queued == 0  # not before the commit
            raise Refused

    with pytest.raises(Refused):
        sign_up_then_fail()
    assert not Member.objects.filter(email="bob@example.com").exists()
    assert project.stats_sync("emails").queued == 0  # and never, after the rollback
    with transaction.atomic():
        member = Member.objects.create(email="cy@example.com", name="Cy")
        enqueue_on_commit(send_welcome_email.call(member.pk))
        with transaction.atomic():  # a savepoint's commit is not the transaction's
            enqueue_on_commit(send_welcome_email.call(member.pk), send_welcome_email.call(member.pk))
        assert project.stats_sync("emails").queued == 0
    assert project.stats_sync("emails").queued == 3
    enqueue_on_commit(send_welcome_email.call(member.pk))  # autocommit: at once
    assert project.stats_sync("emails").queued == 4


def test_a_job_starts_on_a_fresh_connection_and_a_direct_call_keeps_the_transactions(project: RedisQ) -> None:
    from django.db import connection, transaction

    from .djangotasks import connection_was_open  # a module of REDISQ["IMPORTS"]: found at start

    assert "tests.djconn" in project.tasks
    jobs = [connection_was_open.delay() for _ in range(3)]
    drain_sync(project, ["djconn"])
    # Each job found the connection the one before it used closed (CONN_MAX_AGE=0, as after a request).
    assert [job.result_sync(timeout=5) for job in jobs] == [False, False, False]
    with transaction.atomic():
        connection_was_open()  # outside a job: nothing closes the transaction's connection
        assert connection.connection is not None and connection.in_atomic_block


def test_the_dashboard_is_for_staff_behind_the_django_login(project: RedisQ) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    User.objects.create_user("staff", password="pw", is_staff=True)
    User.objects.create_user("shopper", password="pw")
    browser = {"HTTP_ACCEPT": "text/html"}
    anonymous = Client(enforce_csrf_checks=True)
    answer = anonymous.get("/ops/queues/", **browser)
    assert answer.status_code == 302 and answer["Location"] == "/admin/login/?next=/ops/queues/"
    refused = anonymous.get("/ops/queues/_me")
    assert refused.status_code == 401 and refused.json()["error"] == "not_authenticated"
    shopper = Client(enforce_csrf_checks=True)
    shopper.login(username="shopper", password="pw")
    assert shopper.get("/ops/queues/", **browser).status_code == 401  # logged in, not staff: no loop
    staff = Client(enforce_csrf_checks=True)
    staff.login(username="staff", password="pw")
    assert staff.get("/ops/queues/", **browser).content.startswith(b"<!doctype html>")
    assert staff.get("/ops/queues/_me").json()["access"] == "admin"
    # Writes: the admin API's own cross-site guard, in place of Django's CSRF token (the page has none).
    json = "application/json"
    evil = staff.post("/ops/queues/emails/pause", content_type=json, HTTP_ORIGIN="https://evil.example")
    assert evil.status_code == 403 and evil.json()["error"] == "forbidden"
    paused = staff.post("/ops/queues/emails/pause", content_type=json)
    assert paused.json() == {"queue": "emails", "paused": True}
    resumed = staff.post(
        "/ops/queues/emails/resume",
        content_type=json,
        HTTP_ORIGIN="http://testserver",
        HTTP_HOST="testserver",
    )
    assert resumed.status_code == 200
    not_json = staff.post(
        "/ops/queues/emails/jobs", "task=x", content_type="application/x-www-form-urlencoded"
    )
    assert not_json.status_code == 415
    assert staff.get("/ops/queues/no/such/route").json()["error"] == "not_found"
    wrong = staff.put("/ops/queues/emails/pause")
    assert wrong.status_code == 405 and wrong["Allow"] == "OPTIONS, POST"
    # The admin index links to the dashboard.
    assert b'href="/ops/queues/"' in staff.get("/admin/").content


def test_health_answers_503_while_redis_is_down(site: Path) -> None:
    from django.test import Client

    from redisq.django import health_urls

    assert Client().get("/health").json()["status"] == "ready"  # the project's, at the example's /health
    with own_server() as server:
        rq = RedisQ(server.url, health_timeout_s=0.3)
        urlconf = Urlconf(health_urls(client=rq))
        on_it: dict[str, Any] = {URLCONF_KEY: urlconf}
        assert Client().get("/health", **on_it).status_code == 200
        server.stop()
        down = Client().get("/health/", **on_it)
        assert down.status_code == 503 and down["Cache-Control"] == "no-store"
        assert Client().get("/health/live", **on_it).status_code == 200  # liveness needs no Redis
        rq.close()


def test_the_management_command_runs_the_redisq_commands(project: RedisQ) -> None:
    from accounts.tasks import send_welcome_email
    from django.core.management import CommandError, call_command

    send_welcome_email.delay(12345)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        call_command("redisq", "queues", "--json")
    assert '"emails"' in out.getvalue()
    with pytest.raises(CommandError, match="No such command 'nope'"):
        call_command("redisq", "nope")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        call_command("redisq", "config", "--json")
    effective = json.loads(out.getvalue())["settings"]
    assert effective["worker.concurrency"] == {
        "value": 4,
        "source": "settings",
        "from": "settings.REDISQ['CONCURRENCY']",
    }
    assert effective["client.url"]["source"] == "settings" and "***" not in effective["client.url"]["value"]
    assert effective["worker.lease_s"]["source"] == "default"
    drain_sync(project, ["djconn"])  # a worker's start upserts the schedules declared in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        call_command("redisq", "schedules", "--run", "tests.djhourly")
    assert "enqueued djconn:" in out.getvalue() and "tests.djhourly" in out.getvalue()


def test_the_check_says_when_the_admin_index_cannot_link_to_the_dashboard(project: RedisQ) -> None:
    from django.conf import settings
    from django.core import checks
    from django.test import override_settings

    assert [m for m in checks.run_checks() if m.id == "redisq.W001"] == []
    late = [*(a for a in settings.INSTALLED_APPS if a != "redisq.django"), "redisq.django"]
    with override_settings(INSTALLED_APPS=late):
        [warning] = [m for m in checks.run_checks() if m.id == "redisq.W001"]
    assert "before" in (warning.hint or "")


def test_a_task_declared_before_django_is_set_up_says_why_it_cannot_be() -> None:
    early = (
        "from django.conf import settings; settings.configure(INSTALLED_APPS=['redisq.django']); "
        "from redisq.django import task; task(print)"
    )
    done = subprocess.run([sys.executable, "-c", early], capture_output=True, text=True, timeout=60)
    assert (
        done.returncode == 1
        and "AppRegistryNotReady: redisq's client is made when Django starts" in done.stderr
    )
