"""The dashboard's Workflow page (issue 16) in a real browser, on the FastAPI and the Flask app: a
workflow's steps by stage with their states and edges, live; a failed step retried from the page lets
the workflow go on; a step's job page links to its workflow; readers see no buttons."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

from redisq import RedisQ, chain, step

from .dashboardbrowserkit import Served, Session, shot


def _enqueue(served: Served, flag: Path, workflow_id: str) -> list[str]:
    """The workflow, sent from this process: its tasks are registered here by name only (the served app's
    worker runs them)."""
    rq = RedisQ(served.redis_url, prefix=served.prefix)
    try:
        echo = rq.task(name="dashboard.echo", queue=served.queue, retries=0)(_nothing)
        flaky = rq.task(name="dashboard.flaky", queue=served.queue, retries=0)(_nothing)
        flow = chain(echo.call("start"), step(flaky.call(str(flag)), takes_result=False), echo.call())
        return [job.id for job in rq.enqueue_workflow_sync(flow, id=workflow_id).jobs]
    finally:
        rq.close()


def _nothing(*args: object) -> None: ...


def test_workflow_page_shows_steps_and_a_retried_step_lets_it_go_on(
    served: Served, open_page: Callable[..., Session], tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    wid = f"wf-{served.queue}-{served.flavor}"
    ids = _enqueue(served, flag, wid)
    page = open_page(served, hash=f"#/workflows/{wid}").page
    expect(page.locator("h1")).to_have_text("Workflow")
    steps = page.locator("li.workflow-step")
    expect(steps).to_have_count(3)
    expect(page.locator("ol.workflow-stage")).to_have_count(3)  # a chain: one step per stage
    second, third = page.locator('[data-step="2"]'), page.locator('[data-step="3"]')
    expect(second).to_have_attribute("data-state", "dead", timeout=15_000)
    expect(second).to_contain_text("RuntimeError")
    expect(third).to_have_attribute("data-state", "dead")
    expect(third).to_contain_text("DependencyFailed")
    expect(third).to_contain_text("after #2")
    expect(page.locator(".lede")).to_contain_text(
        re.compile(r"^failed 1 of 3 steps succeeded · started (just now|\d+ s ago)$")
    )
    expect(third.get_by_role("button", name="Retry step 3")).to_have_count(0)  # retry the cause instead
    shot(page, served, "workflow-failed")

    flag.write_text("ok")
    second.get_by_role("button", name="Retry step 2").click()
    expect(page.locator("#toast")).to_contain_text("retried")
    expect(third).to_have_attribute("data-state", "succeeded", timeout=15_000)
    expect(page.locator(".lede")).to_contain_text("3 of 3 steps succeeded")
    shot(page, served, "workflow")

    third.get_by_role("link", name="job of step 3").click()  # the step's job page links back to its workflow
    expect(page.locator("h1")).to_have_text("dashboard.echo")
    expect(page.locator('[data-field="workflow"]')).to_have_text(wid)
    page.locator('[data-field="workflow"]').click()
    expect(page).to_have_url(re.compile(f"#/workflows/{re.escape(wid)}$"))
    assert served.job(ids[2].rpartition(":")[2])["result"] == "recovered"


def test_readers_see_a_workflow_without_actions_and_an_unknown_id_explains(
    served: Served, open_page: Callable[..., Session], tmp_path: Path
) -> None:
    wid = f"read-{served.queue}-{served.flavor}"
    _enqueue(served, tmp_path / "never", wid)
    page = open_page(served, role="read", hash=f"#/workflows/{wid}").page
    expect(page.locator('[data-step="2"]')).to_have_attribute("data-state", "dead", timeout=15_000)
    expect(page.locator("li.workflow-step").get_by_role("button")).to_have_count(0)
    page.goto(served.url + "#/workflows/no-such-flow")
    expect(page.locator(".lede")).to_contain_text("No workflow has this id")
