"""Job commands: `jobs QUEUE`, `job ID`, and `retry`/`cancel`/`abort`/`delete ID` (shared with `flask
redisq`). Every one runs the admin layer's handler, so a command refuses what the HTTP API refuses."""

from __future__ import annotations

import click

from redisq.admin import actions
from redisq.admin.payloads import JobBody, JobPage
from redisq.core.client import RedisQ
from redisq.core.keys import split_job_id

from .output import console, echo_json, json_option, operator_command
from .render import job_view, jobs_table
from .target import current_target

SCAN_MAX = 10_000  # with --task: the most jobs of the index read to find `--limit` matches


@click.command("jobs")
@click.argument("queue")
@click.option("--state", default="queued", show_default=True, type=click.Choice(actions.LISTED_STATES))
@click.option("--task", help="Only the jobs of this task (read from the index, up to 10,000 jobs).")
@click.option("--limit", type=click.IntRange(1, actions.MAX_LIMIT), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--order", type=click.Choice(["newest", "oldest"]), default="newest", show_default=True)
@json_option
@operator_command
def jobs(
    queue: str, state: str, task: str | None, limit: int, offset: int, order: str, as_json: bool
) -> None:
    """One page of QUEUE's jobs in one state."""
    page = actions.page_request(state, offset, limit, order)

    async def read(rq: RedisQ) -> JobPage:
        if task is None:
            return await actions.list_jobs(rq, queue, page)
        found: list[JobBody] = []
        start = page.offset
        while len(found) < limit and start - page.offset < SCAN_MAX:
            chunk = actions.PageRequest(page.state, start, actions.MAX_LIMIT, page.newest_first)
            listed = await actions.list_jobs(rq, queue, chunk)
            found += [j for j in listed["items"] if j["task"] == task]
            start += actions.MAX_LIMIT
            if len(listed["items"]) < actions.MAX_LIMIT:
                break
        return {**listed, "items": found[:limit], "offset": page.offset, "limit": limit}

    listed = current_target().call(read)
    if as_json:
        echo_json(listed)
        return
    title = f"{queue}: {listed['total']} {state}" + (f", task {task}" if task else "")
    console(200).print(jobs_table(listed["items"], title))


@click.command("job")
@click.argument("job_id", metavar="ID")
@json_option
@operator_command
def job(job_id: str, as_json: bool) -> None:
    """A job's record, and the traceback of its last failure."""
    queue, uid = split_job_id(job_id)
    body = current_target().call(lambda rq: actions.job_detail(rq, queue, uid))
    if as_json:
        echo_json(body)
    else:
        console(200).print(job_view(body))


def _action_command(action: actions.JobAction, doc: str) -> click.Command:
    @click.command(action, help=doc)
    @click.argument("job_id", metavar="ID")
    @json_option
    @operator_command
    def command(job_id: str, as_json: bool) -> None:
        queue, uid = split_job_id(job_id)
        done = current_target().call(lambda rq: actions.job_action(rq, queue, uid, action))
        if as_json:
            echo_json(done)
        else:
            click.echo(f"{done['action']} {done['id']}")

    return command


retry = _action_command("retry", "Put a dead (or failed, waiting) job back on its queue, now.")
cancel = _action_command("cancel", "Cancel a queued or scheduled job.")
abort = _action_command("abort", "Stop a job wherever it is: cancelled if waiting, stopped if running.")
delete = _action_command("delete", "Delete a job that is not running, for good.")
