"""FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from redisq.core.client import RedisQ
from redisq.integrations.asgi.protocol import STATE_KEY


def get_redisq(request: Request) -> RedisQ:
    """`rq: RedisQ = Depends(get_redisq)`: the client that RedisQMiddleware put on the request."""
    rq = request.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(rq, RedisQ):
        raise RuntimeError(
            "get_redisq needs RedisQMiddleware: app.add_middleware(RedisQMiddleware, redisq=rq)"
        )
    return rq


# `async def signup(rq: RedisQDep): ...`
RedisQDep = Annotated[RedisQ, Depends(get_redisq)]
