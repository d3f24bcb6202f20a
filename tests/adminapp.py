"""An app module served by a real uvicorn in the admin API tests, configured from the environment.

The FastAPI router is at `/queues`; the Starlette app is mounted at `/plain/queues`. Both let anyone in
(the tests exercise every route), and trust one extra origin for cross-site writes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from redisq import RedisQ
from redisq.integrations.asgi.admin import admin_app
from redisq.integrations.fastapi.admin import admin_router

from .adminkit import TRUSTED_ORIGIN

rq = RedisQ(prefix=os.environ["ADMIN_TEST_PREFIX"], default_queue=os.environ["ADMIN_TEST_QUEUE"])


@rq.task(name="adminapp.add")
def add(a: int, b: int) -> int:
    return a + b


@rq.task(name="adminapp.greet", unique=True)
async def greet(name: str, punctuation: str = "!") -> str:
    return f"hello {name}{punctuation}"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await rq.aclose()


app = FastAPI(lifespan=lifespan)
app.include_router(
    admin_router(rq, allow_anonymous="admin", trusted_origins=[TRUSTED_ORIGIN]), prefix="/queues"
)
app.mount("/plain/queues", admin_app(rq, allow_anonymous="admin", trusted_origins=[TRUSTED_ORIGIN]))
