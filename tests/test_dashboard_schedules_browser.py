"""The dashboard's Schedules page (issue 12) in a real browser, on the FastAPI and the Flask app: the
periodic jobs listed with their timing and next run, Run now (and the link to the job it wrote), Pause,
Resume and Delete; readers see no buttons."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import expect

from .dashboardbrowserkit import Served, Session, shot, wait_until


def put_schedule(served: Served, schedule_id: str) -> None:
    body = {"task": "dashboard.echo", "args": ["tick"], "every_s": 3600, "queue": served.queue}
    served.api("PUT", f"_schedules/{schedule_id}", json=body)


def test_schedules_page_lists_runs_pauses_and_deletes(
    served: Served, open_page: Callable[..., Session]
) -> None:
    sid = f"hourly-{served.queue}"
    put_schedule(served, sid)
    page = open_page(served, hash="#/schedules").page
    expect(page.get_by_role("link", name="Schedules", exact=True)).to_have_attribute("aria-current", "page")
    row = page.locator(f'tr[data-schedule="{sid}"]')
    expect(row).to_be_visible()
    expect(row.locator('td[data-label="When"]')).to_have_text("every 3600 s")
    expect(row.locator('td[data-label="Next run"]')).to_have_text(re.compile(r"^in (59 min|1 h)"))
    expect(row.locator('td[data-label="Last run"]')).to_have_text("never")

    row.get_by_role("button", name=f"Run now: {sid}").click()
    expect(page.locator("#toast")).to_contain_text("enqueued")
    job_link = row.locator('a[data-role="last-job"]')
    expect(job_link).to_be_visible()
    last_job = served.api("GET", f"_schedules/{sid}")["last_job"]
    assert job_link.get_attribute("href") == f"#/jobs/{last_job.replace(':', '/', 1)}"
    shot(page, served, "schedules")

    row.get_by_role("button", name=f"Pause: {sid}").click()
    expect(row.locator('td[data-label="State"]')).to_have_text("paused")
    expect(row.locator('td[data-label="Next run"]')).to_have_text("\u2013")
    assert served.api("GET", f"_schedules/{sid}")["paused"] is True
    row.get_by_role("button", name=f"Resume: {sid}").click()
    expect(row.locator('td[data-label="State"]')).to_have_text("active")
    assert served.api("GET", f"_schedules/{sid}")["paused"] is False

    job_link.click()  # the job that Run now wrote: its page, and it ran
    expect(page.locator("h1")).to_have_text("dashboard.echo")
    assert page.url.endswith(f"#/jobs/{served.queue}/{last_job.rpartition(':')[2]}")
    wait_until(lambda: served.job(last_job.rpartition(":")[2])["state"] == "succeeded")

    page.goto(served.url + "#/schedules")
    row = page.locator(f'tr[data-schedule="{sid}"]')
    row.get_by_role("button", name=f"Delete: {sid}").click()
    page.get_by_role("button", name="Delete schedule").click()
    expect(row).to_have_count(0)
    assert all(s["id"] != sid for s in served.api("GET", "_schedules")["schedules"])


def test_readers_see_schedules_without_actions(served: Served, open_page: Callable[..., Session]) -> None:
    sid = f"read-{served.queue}"
    put_schedule(served, sid)
    page = open_page(served, role="read", hash="#/schedules").page
    row = page.locator(f'tr[data-schedule="{sid}"]')
    expect(row).to_be_visible()
    expect(row.get_by_role("button")).to_have_count(0)
    served.api("DELETE", f"_schedules/{sid}")
