"""Helpers for the admin API tests: the API as a Starlette app, a FastAPI router, a Flask blueprint or
Django URLs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import httpx
from a2wsgi import WSGIMiddleware
from fastapi import FastAPI, Header
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount

from redisq import RedisQ
from redisq.admin.access import Access
from redisq.integrations.asgi.admin import admin_app
from redisq.integrations.fastapi.admin import admin_router
from redisq.integrations.flask import RedisQ as FlaskRedisQ

# One contract: every test runs against each adapter; Django under its ASGI and its WSGI handler.
FLAVORS = ("starlette", "fastapi", "flask", "django", "django-wsgi")
BASE_URL = "http://testserver"
ADMIN = {"x-role": "admin"}
READER = {"x-role": "read"}
TRUSTED_ORIGIN = "https://admin.example.com"  # trusted for cross-site writes by tests/adminapp.py


def role(value: str | None) -> Access | None:
    return {"admin": Access.ADMIN, "read": Access.READ}.get(value or "")


async def starlette_auth(request: Request) -> Access | None:
    return role(request.headers.get("x-role"))


def fastapi_auth(x_role: Annotated[str | None, Header()] = None) -> Access | None:
    return role(x_role)


def flask_auth(request: Any) -> Access | None:
    return role(request.headers.get("x-role"))


def flask_app(rq: RedisQ, mount: str, default_auth: bool, **options: Any) -> Any:
    """The Flask blueprint on a Flask app that uses this very client, served as ASGI (a2wsgi) for httpx."""
    if default_auth and "auth" not in options:
        options["auth"] = flask_auth
    app = Flask("admin-contract")
    extension = FlaskRedisQ(app, client=rq, health_url=None)
    app.register_blueprint(extension.admin_blueprint(**options), url_prefix=mount)
    return WSGIMiddleware(app)


def build_app(
    flavor: str, rq: RedisQ, mount: str = "/queues", default_auth: bool = True, **options: Any
) -> Any:
    """The admin API mounted at `mount` of a new app; by default its auth reads the `x-role` header."""
    if flavor == "flask":
        return flask_app(rq, mount, default_auth, **options)
    if flavor == "django":
        from .djangokit import admin_asgi_app

        return admin_asgi_app(rq, mount, default_auth, **options)
    if flavor == "django-wsgi":
        from .djangokit import admin_wsgi_app

        return admin_wsgi_app(rq, mount, default_auth, **options)
    if flavor == "starlette":
        if default_auth and "auth" not in options:
            options["auth"] = starlette_auth
        return Starlette(routes=[Mount(mount, admin_app(rq, **options))])
    if default_auth and "auth" not in options:
        options["auth"] = fastapi_auth
    app = FastAPI()
    app.include_router(admin_router(rq, **options), prefix=mount)
    return app


@contextlib.asynccontextmanager
async def api_client(
    flavor: str,
    rq: RedisQ,
    headers: dict[str, str] | None = None,
    root_path: str = "",
    mount: str = "/queues",
    **options: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose relative URLs start below the mount point: `await client.get("/q/jobs")`."""
    app = build_app(flavor, rq, mount, **options)
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    base = f"{BASE_URL}{root_path}{mount}"
    async with httpx.AsyncClient(
        transport=transport, base_url=base, headers=ADMIN if headers is None else headers
    ) as client:
        yield client


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def job_state(client: httpx.AsyncClient, job_id: str) -> str:
    queue, _, uid = job_id.rpartition(":")
    response = await client.get(f"/{queue}/jobs/{uid}")
    assert response.status_code == 200, response.text
    return str(response.json()["state"])


def job_path(job_id: str) -> str:
    queue, _, uid = job_id.rpartition(":")
    return f"/{queue}/jobs/{uid}"
