"""The README's Django section, run as a user would: `django-admin startproject` and `startapp`, the README's
files written in, its settings appended, migrations made, a view called, its shell lines run."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from . import readmekit
from .test_readme import Project, _wait

CHECKS = """
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djshop.settings")
django.setup()

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.test import Client, RequestFactory

from djshop.access import redisq_access
from orders.models import Order
from orders.tasks import send_confirmation
from redisq.django import Access, QueueAccess, client, enqueue_on_commit

rq = client()
answer = Client(HTTP_HOST="localhost").post("/orders/", {"email": "ada@example.com", "item": "lamp"})
assert answer.status_code == 201, answer.content
assert rq.stats_sync("emails").queued == 1  # the view's transaction committed: its job is there

try:
    with transaction.atomic():
        order = Order.objects.create(email="bob@example.com", item="desk")
        enqueue_on_commit(send_confirmation.call(order.pk))
        raise RuntimeError("rolled back")
except RuntimeError:
    pass
assert rq.stats_sync("emails").queued == 1  # nothing for the rolled-back order

staff = User.objects.create_user("staff", password="pw", is_staff=True)
browser = Client(HTTP_HOST="localhost")
browser.force_login(staff)
assert browser.get("/ops/queues/_me").json()["access"] == "admin"
assert Client(HTTP_HOST="localhost").get("/health").json()["status"] == "ready"

support = User.objects.create_user("sam", password="pw")
support.groups.add(Group.objects.create(name="support"))
request = RequestFactory().get("/ops/queues/")
request.user = support
granted = redisq_access(request)
assert isinstance(granted, QueueAccess), granted
assert granted.level_for("emails") is Access.ADMIN and granted.level_for("reports") is Access.READ
request.user = User.objects.create_superuser("root", password="pw")
assert redisq_access(request) is Access.ADMIN
print("checks passed")
"""


FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"


def test_the_django_section(tmp_path: Path, redis_url: str, prefix: str) -> None:
    project = Project(tmp_path, redis_url, prefix)
    python = [sys.executable, "-m", "django"]
    subprocess.run([*python, "startproject", "djshop", str(tmp_path)], check=True, env=project.env)
    subprocess.run([*python, "startapp", "orders"], cwd=tmp_path, check=True, env=project.env)
    for block in readmekit.of_kind("django"):
        path = tmp_path / block.arg
        if block.arg == "djshop/settings.py":  # "below what startproject wrote"
            # The test's email backend (to a folder) after it.
            mail = f'EMAIL_BACKEND = "{FILE_BACKEND}"\nEMAIL_FILE_PATH = "{tmp_path / "mail"}"\n'
            path.write_text(f"{path.read_text()}\n{block.code}\n{mail}")
        else:
            path.write_text(block.code)
    project.run("python manage.py makemigrations orders")
    project.run("python manage.py migrate")
    (tmp_path / "checks.py").write_text(CHECKS)  # the view, on-commit, access: in the project's Django
    assert "checks passed" in project.run("python checks.py").stdout

    worker, stats, dead = readmekit.of_kind("shell", "django")[0].lines
    with project.running(worker):
        _wait(lambda: confirmed(tmp_path / "db.sqlite3") == ["ada@example.com"])
        assert any("Your lamp is on its way." in p.read_text() for p in (tmp_path / "mail").iterdir())
    assert "emails" in project.run(stats).stdout
    assert json.loads(project.run(dead).stdout)["items"] == []  # none of them died


def confirmed(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return [row[0] for row in connection.execute("SELECT email FROM orders_order WHERE confirmed")]
