"""The admin router's retry route (issue 17): `POST /{queue}/jobs/{uid}/retry`, whose optional body gives a
dead job new arguments; the handler is `redisq.admin.actions.retry_job`, shared with the Starlette app and
Flask."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from redisq.admin import actions
from redisq.core.client import RedisQ

from .models import RetryModel


def add_retry_route(router: APIRouter, rq: RedisQ, **route: Any) -> None:
    """`route`: the options of the router's other job actions (response model, access, documented errors)."""

    @router.post(
        "/{queue}/jobs/{uid}/retry",
        **route,
        summary="retry a dead or retry-waiting job now; a dead one with new arguments, given a body",
    )
    async def retry_job(
        queue: Annotated[str, Path(description="the queue's name")],
        uid: Annotated[str, Path(description="the job's uid: its id is '<queue>:<uid>'")],
        body: Annotated[
            RetryModel | None,
            Body(description="a dead job's new arguments, checked as an enqueue's; none: retry as it is"),
        ] = None,
    ) -> Any:
        return await actions.retry_job(rq, queue, uid, None if body is None else body.model_dump())
