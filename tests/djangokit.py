"""Django in the test process: the example project's settings (examples/django_project), configured once per
process on a SQLite file of its own, and the admin API mounted per test as an ASGI app.

Django's settings are one per process; what differs between tests (the client, the auth, the mount) is a
URLconf of the test's own, which `ScopeUrlconf` (a middleware of the test settings) puts on each request.
"""

from __future__ import annotations

import atexit
import importlib
import re
import shutil
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.urls import include, re_path

from redisq import RedisQ

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "django_project"
URLCONF_KEY = "redisq.test_urlconf"  # in the ASGI scope (or the WSGI environ) of a request


class Urlconf:
    """A URLconf as an object (Django takes any object with `urlpatterns`; hashable, for its cache)."""

    def __init__(self, urlpatterns: list[Any]) -> None:
        self.urlpatterns = urlpatterns


class ScopeUrlconf:
    """Middleware: the request's own URLconf, when the test's app put one in its scope."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        scope = getattr(request, "scope", None) or request.META
        found = scope.get(URLCONF_KEY)
        if found is not None:
            request.urlconf = found
        return self.get_response(request)


def ensure_django(redis_url: str | None) -> Path:
    """Configure Django with the example's settings (once per process), migrate its database, and return
    the directory that holds the database file and the sent emails."""
    if settings.configured:
        return Path(settings.DATABASES["default"]["NAME"]).parent
    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))
    example = importlib.import_module("shop.settings")
    values = {name: getattr(example, name) for name in dir(example) if name.isupper()}
    work = Path(tempfile.mkdtemp(prefix="redisq-django-"))
    atexit.register(shutil.rmtree, work, True)
    values["DEBUG"] = False
    values["ALLOWED_HOSTS"] = ["*"]  # the contract tests call hosts such as "t"
    values["DATABASES"] = {"default": {**values["DATABASES"]["default"], "NAME": str(work / "db.sqlite3")}}
    values["EMAIL_FILE_PATH"] = str(work / "mail")
    values["MIDDLEWARE"] = [*values["MIDDLEWARE"], "tests.djangokit.ScopeUrlconf"]
    values["REDISQ"] = {**values["REDISQ"], "URL": redis_url, "PREFIX": f"dj{uuid.uuid4().hex[:10]}"}
    values["REDISQ"]["IMPORTS"] = ["tests.djangotasks"]
    values["PASSWORD_HASHERS"] = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
    settings.configure(**values)
    django.setup()
    from django.core.management import call_command

    # In a thread of its own: an async test calls this with its loop running, where Django refuses the ORM.
    migrate = threading.Thread(target=call_command, args=("migrate",), kwargs={"verbosity": 0})
    migrate.start()
    migrate.join()
    return work


def header_auth(request: Any) -> Any:
    """The contract suite's auth: the `x-role` header."""
    from .adminkit import role

    return role(request.headers.get("x-role"))


def mounted(rq: RedisQ, mount: str, default_auth: bool, **options: Any) -> Urlconf:
    """A URLconf with the admin API on `rq` at `mount` (Django configured first)."""
    ensure_django(rq.settings.url)
    from redisq.django import admin_urls

    if "auth" not in options:  # without default_auth: none, as the other adapters' default (Django's: staff)
        options["auth"] = header_auth if default_auth else None
    # The mount answers with or without its trailing slash, as the other adapters' mounts do.
    prefix = re.escape(mount.strip("/")) + r"(?=/|$)/?"
    return Urlconf([re_path(f"^{prefix}", include(admin_urls(client=rq, **options)))])


def admin_asgi_app(rq: RedisQ, mount: str, default_auth: bool, **options: Any) -> Any:
    """The admin API mounted at `mount` of a Django project served by Django's ASGI handler."""
    urlconf = mounted(rq, mount, default_auth, **options)
    from django.core.handlers.asgi import ASGIHandler

    handler = ASGIHandler()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await handler({**scope, URLCONF_KEY: urlconf}, receive, send)

    app.urlconf = urlconf  # type: ignore[attr-defined]
    return app


def admin_wsgi_app(rq: RedisQ, mount: str, default_auth: bool, **options: Any) -> Any:
    """The same served by Django's WSGI handler (as gunicorn runs it), made ASGI by a2wsgi for httpx."""
    urlconf = mounted(rq, mount, default_auth, **options)
    from a2wsgi import WSGIMiddleware
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return handler({**environ, URLCONF_KEY: urlconf}, start_response)

    wrapped = WSGIMiddleware(app)  # type: ignore[arg-type]
    wrapped.urlconf = urlconf  # type: ignore[attr-defined]
    return wrapped
