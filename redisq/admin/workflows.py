"""The admin API's workflows (issue 16), free of any web framework: `GET M/_workflows/{id}`, a workflow's
steps with their states and edges. Its steps are jobs: retry, cancel or delete one with the job routes.
An id that a workflow could not have is a 404, as an unknown one."""

from __future__ import annotations

from typing import TypedDict

from redisq.core.client import RedisQ
from redisq.core.errors import ConfigurationError, WorkflowNotFound
from redisq.core.keys import split_job_id
from redisq.core.workflow import check_workflow_id
from redisq.core.workflow_ops import WorkflowInfo

from .access import Grant
from .payloads import epoch_iso


class DependencyBody(TypedDict):
    job_id: str
    on_failure: str  # fail, continue, ignore or remove


class StepBody(TypedDict):
    job_id: str
    queue: str
    task: str
    state: str | None  # null: its record expired
    error_type: str | None
    depends_on: list[DependencyBody]


class WorkflowBody(TypedDict):
    id: str
    created_at: str
    state: str  # running, succeeded, or failed (every step ended, not all succeeded)
    steps: list[StepBody]


def workflow_body(info: WorkflowInfo) -> WorkflowBody:
    return {
        "id": info.id,
        "created_at": epoch_iso(info.created_at),
        "state": info.state,
        "steps": [
            {
                "job_id": s.job_id,
                "queue": split_job_id(s.job_id)[0],
                "task": s.task,
                "state": s.state.value if s.state is not None else None,
                "error_type": s.error_type,
                "depends_on": [{"job_id": d, "on_failure": p} for d, p in s.depends_on],
            }
            for s in info.steps
        ],
    }


async def workflow_detail(rq: RedisQ, workflow_id: str, grant: Grant | None = None) -> WorkflowBody:
    """With access per queue (scope.py), a workflow is shown only to whom sees every queue of its steps:
    its steps and edges name them."""
    try:
        check_workflow_id(workflow_id)
    except ConfigurationError:
        raise WorkflowNotFound(f"no workflow {workflow_id!r}") from None
    body = workflow_body(await rq.workflow(workflow_id))
    if grant is not None and not all(grant.sees(s["queue"]) for s in body["steps"]):
        raise WorkflowNotFound(f"no workflow {workflow_id!r}")
    return body
