"""The admin router's metrics over time (issue 17): `GET /_history` and `GET /{queue}/history`, typed for
the OpenAPI schema; the handlers are `redisq.admin.history`'s, shared with the Starlette app and Flask."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from redisq.admin import history
from redisq.admin.access import Grant
from redisq.core.client import RedisQ

from .models import Timestamp

RangeParam = Annotated[
    Literal["1h", "24h", "72h", "30d"] | None, Query(description="how far back; default 1h")
]


class PercentilesModel(BaseModel):
    p50: float | None
    p95: float | None
    p99: float | None


class CountsModel(BaseModel):
    succeeded: int = Field(description="attempts that succeeded")
    failed: int = Field(description="attempts that failed (retried or dead)")
    run_ms: PercentilesModel = Field(description="run time of those attempts, from fixed buckets")
    wait_ms: PercentilesModel = Field(description="queue wait before them: from due (or enqueue) to start")


class PointModel(CountsModel):
    at: Timestamp = Field(description="the start of the point's window")


class TaskTotalsModel(CountsModel):
    task: str


class QueueTotalsModel(CountsModel):
    queue: str


class QueueHistoryModel(BaseModel):
    queue: str
    task: str | None
    range: str
    step_s: int = Field(description="the width of each point")
    points: list[PointModel]
    tasks: list[TaskTotalsModel] = Field(description="each task that ran in the range, with its totals")


class SystemHistoryModel(BaseModel):
    range: str
    step_s: int
    points: list[PointModel] = Field(description="every queue summed")
    queues: list[QueueTotalsModel]


def add_history_routes(router: APIRouter, rq: RedisQ, read: list[Any]) -> None:
    """Before the router's "/{queue}" route, which would take "/_history"."""

    @router.get(
        "/_history",
        response_model=SystemHistoryModel,
        dependencies=read,
        summary="every queue's attempts, run times and queue waits over time",
    )
    async def system_history(request: Request, range: RangeParam = None) -> Any:
        grant: Grant = request.state.redisq_grant  # the router's access dependency
        return await history.system_history(rq, range, grant)

    @router.get(
        "/{queue}/history",
        response_model=QueueHistoryModel,
        dependencies=read,
        summary="a queue's (or one task's) attempts, run times and queue waits over time",
    )
    async def queue_history(
        queue: Annotated[str, Path(description="the queue's name")],
        range: RangeParam = None,
        task: Annotated[str | None, Query(description="one task's points", min_length=1)] = None,
    ) -> Any:
        return await history.queue_history(rq, queue, range, task)
