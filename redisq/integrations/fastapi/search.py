"""The admin router's job listing with its filters, and its bulk route (issue 17): the handlers are
`redisq.admin.actions.list_jobs` and `redisq.admin.bulk.bulk`, shared with the Starlette app and Flask,
which check every value; the types here describe the routes in the OpenAPI schema."""

# No `from __future__ import annotations`, as in admin.py: FastAPI reads these functions' annotations.
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from redisq.admin import actions, bulk, search
from redisq.core.client import RedisQ

from .models import BulkDoneModel, BulkModel, JobPageModel

Queue = Annotated[str, Path(description="the queue's name")]
Filter = Annotated[str | None, Query(description="see redisq.admin.search")]
Moment = Annotated[
    str | None,
    Query(description="ISO 8601 with an offset, or epoch seconds: the time the listing shows for the state"),
]


def add_search_routes(
    router: APIRouter, rq: RedisQ, read: list[Any], admin: list[Any], write_errors: dict[int | str, Any]
) -> None:
    """`GET /{queue}/jobs` (a page, filtered when a filter is given) and `POST /{queue}/bulk`."""

    @router.get(
        "/{queue}/jobs",
        response_model=JobPageModel,
        # An unfiltered page keeps its shape: the filtered page's fields are left out, not null.
        response_model_exclude_unset=True,
        dependencies=read,
        summary="one page of jobs; with filters, of the jobs that match (a bounded search: see `next`)",
    )
    async def list_jobs(
        queue: Queue,
        state: actions.ListedState = "queued",
        offset: Annotated[int, Query(ge=0, le=actions.MAX_OFFSET)] = 0,
        limit: Annotated[int, Query(ge=1, le=actions.MAX_LIMIT)] = actions.DEFAULT_LIMIT,
        order: actions.Order = "newest",
        task: Filter = None,
        q: Annotated[str | None, Query(description="text in the JSON of its args or kwargs")] = None,
        request_id: Filter = None,
        error: Annotated[str | None, Query(description="the type of its last error")] = None,
        since: Moment = None,
        until: Moment = None,
    ) -> Any:
        page = actions.page_request(state, offset, limit, order)
        given = {"task": task, "q": q, "request_id": request_id, "error": error}
        given |= {"since": since, "until": until}
        return await actions.list_jobs(rq, queue, page, search.job_filter(given))

    @router.post(
        "/{queue}/bulk",
        response_model=BulkDoneModel,
        dependencies=admin,
        responses=write_errors,
        summary="retry, requeue, cancel or delete a selection, or a batch of the jobs a filter matches",
    )
    async def bulk_jobs(queue: Queue, body: BulkModel) -> Any:
        return await bulk.bulk(rq, queue, body.model_dump(exclude_unset=True))
