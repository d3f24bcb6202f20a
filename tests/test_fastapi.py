"""The FastAPI wrappers: the client as a dependency and on request.state, next to the admin router."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Request

from redisq import RedisQ
from redisq.fastapi import RedisQDep, RedisQMiddleware, get_redisq

from .asgikit import lifespan
from .test_asgi import client_for


async def test_handlers_get_the_client_from_the_middleware(rq: RedisQ, queue: str) -> None:
    @rq.task(name="fastapi.hello")
    async def hello(name: str) -> str:
        return f"hello {name}"

    app = FastAPI()
    app.add_middleware(RedisQMiddleware, redisq=rq)

    @app.post("/hello/{name}", status_code=202)
    async def enqueue_hello(name: str, client: RedisQDep) -> dict[str, str]:
        assert client is rq
        job = await client.get_task("fastapi.hello").enqueue(name)
        return {"job": job.id}

    @app.get("/state")
    async def state(request: Request) -> dict[str, str]:
        return {"prefix": request.state.redisq.settings.prefix}

    async with lifespan(app), client_for(app) as client:
        response = await client.post("/hello/ada")
        assert response.status_code == 202
        assert (await rq.job(response.json()["job"]).info()).args == ["ada"]
        assert (await client.get("/state")).json() == {"prefix": rq.settings.prefix}
    assert (await rq.stats(queue)).queued == 1


async def test_get_redisq_without_the_middleware_says_what_is_missing() -> None:
    app = FastAPI()

    @app.get("/")
    async def index(client: Annotated[RedisQ, Depends(get_redisq)]) -> None: ...

    with pytest.raises(RuntimeError, match="RedisQMiddleware"):
        async with client_for(app) as client:
            await client.get("/")
