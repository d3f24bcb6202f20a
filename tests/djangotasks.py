"""A task of the test settings' REDISQ["IMPORTS"] (tests/djangokit.py): imported by the app at start."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection

from redisq.django import task


@task(queue="djconn", name="tests.djconn")
def connection_was_open() -> bool:
    """Whether this thread's database connection was open when the job started; then it uses it."""
    opened = connection.connection is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return opened


@task(name="tests.djhourly", queue="djconn", schedule=timedelta(hours=1))
def hourly() -> str:
    """A periodic job declared in a Django project (upserted by the worker at its start)."""
    return "ran"
