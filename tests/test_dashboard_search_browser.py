"""The queue page's filters, rows and bulk actions (issue 17) in a real browser, on the FastAPI and the Flask
app: the filter bar drives the server's search and says how far it went; each row shows its task, its
arguments and its last error on one line; admins select rows and act on them, or on everything a filter
matches, with a confirmation that gives the count, then the progress and what was skipped and why; a row's
own Cancel; readers filter but select nothing. Screenshots of the filtered page in light and dark mode."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote_plus

from playwright.sync_api import Locator, Page, expect

from redisq import RedisQ

from .dashboardbrowserkit import Served, Session, lines, shot, wait_until


def _filter(page: Page, **fields: str) -> None:
    labels = {"task": "Task", "q": "Arguments contain", "error": "Error type", "request_id": "Request id"}
    for name, value in fields.items():
        page.get_by_label(labels[name], exact=True).fill(value)
    page.get_by_role("button", name="Filter", exact=True).click()
    for name, value in fields.items():  # the address holds them: the list shown is the filtered one
        expect(page).to_have_url(re.compile(re.escape(f"{name}={quote_plus(value)}")))


def _rows(page: Page) -> Locator:
    return page.locator(".job-list tbody tr")


def _fill(served: Served, n: int) -> None:
    """`n` echo jobs on the served queue, from this process in one round trip (the served app's worker
    runs the task: here it is registered by name only)."""
    rq = RedisQ(served.redis_url, prefix=served.prefix)
    try:
        echo = rq.task(name="dashboard.echo", queue=served.queue, retries=0)(_nothing)
        rq.enqueue_many_sync([echo.call("filler") for _ in range(n)])
    finally:
        rq.close()


def _nothing(*args: object) -> None: ...


def test_filter_select_and_act_in_bulk(
    served: Served, open_page: Callable[..., Session], tmp_path: Path
) -> None:
    token = uuid.uuid4().hex[:8]
    flag = tmp_path / f"flag-{token}"
    flaky = [served.enqueue("flaky", str(flag)) for _ in range(3)]
    declined = [served.enqueue("fail", f"{token} card declined {i}") for i in range(3)]
    for uid in flaky + declined:
        assert served.wait_final(uid)["state"] == "dead"
    page = open_page(served, hash=f"#/queues/{served.queue}?state=dead").page
    expect(page.locator(".bulk-bar")).to_be_hidden()  # nothing selected, no filter

    _filter(page, q=token)
    expect(page).to_have_url(re.compile(f"state=dead&q={token}"))
    expect(_rows(page)).to_have_count(6)
    expect(page.locator(".search-note")).to_contain_text("6 matches among")
    _filter(page, task="dashboard.flaky")  # with the arguments' text still there
    expect(_rows(page)).to_have_count(3)
    row = page.locator(f'tr[data-uid="{flaky[0]}"]')
    expect(row.locator('td[data-label="Task"]')).to_have_text("dashboard.flaky")
    expect(row.locator('td[data-label="Arguments"]')).to_have_text(re.compile(r'^\("/.{23}…"\)$'))
    details = row.locator('td[data-label="Details"]')
    expect(details).to_have_text(re.compile(r"^RuntimeError: no flag file at /"))
    assert lines(details) == 1 and lines(row.locator('td[data-label="Arguments"]')) == 1
    page.emulate_media(color_scheme="light")
    shot(page, served, "queue-filtered-light")
    page.emulate_media(color_scheme="dark")
    shot(page, served, "queue-filtered-dark")
    page.emulate_media(color_scheme="light")
    phone = open_page(
        served, phone=True, hash=page.url.partition("#")[2] and "#" + page.url.partition("#")[2]
    ).page
    expect(phone.locator(f'tr[data-uid="{flaky[0]}"] td[data-label="Arguments"]')).to_be_visible()
    shot(phone, served, "queue-filtered-phone")

    # Two selected; one of them is deleted meanwhile: the action says so rather than dropping it.
    flag.write_text("ok")
    page.get_by_label(f"Select {flaky[0]}").check()
    page.get_by_label(f"Select {flaky[1]}").check()
    expect(page.locator(".bulk-count")).to_have_text("2 jobs selected")
    served.api("DELETE", f"{served.queue}/jobs/{flaky[1]}")
    page.get_by_role("button", name="Retry selected").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Retry 2 selected jobs?")
    dialog.get_by_role("button", name="Retry 2 jobs").click()
    expect(page.locator(".bulk-status")).to_have_text(
        "Retried 1 of 2 · 1 skipped (gone (expired or deleted): 1)."
    )
    assert served.wait_final(flaky[0])["state"] == "succeeded"
    expect(page.locator(f'tr[data-uid="{flaky[0]}"]')).to_have_count(0)  # the list was read again
    assert served.job(flaky[2])["state"] == "dead"  # not selected: untouched
    expect(page.locator(".bulk-count")).to_be_hidden()

    # Everything the filter matches: counted first, confirmed with that count, done batch by batch.
    _filter(page, task="dashboard.fail")
    expect(_rows(page)).to_have_count(3)
    page.get_by_role("button", name="Retry all matching…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Retry 3 matching jobs?")
    expect(dialog).to_contain_text(f"task “dashboard.fail”, arguments contain “{token}”")
    dialog.get_by_role("button", name="Retry 3 jobs").click()
    expect(page.locator(".bulk-status")).to_have_text("Retried 3 of 3.")
    for uid in declined:  # requeued with fresh attempts, they ran again (and failed again, as that task does)
        wait_until(lambda uid=uid: served.job(uid)["state"] == "dead" and served.job(uid)["attempts"] == 1)
    shot(page, served, "queue-bulk-done")

    # A row's own action: Cancel a scheduled job, found by its arguments on the Scheduled tab.
    later = served.enqueue("echo", f"{token}-later", delay_s=3600)
    page.locator("nav.tabs").get_by_role("link", name="Scheduled").click()
    expect(page).to_have_url(re.compile(f"state=scheduled.*q={token}"))
    page.get_by_role("button", name="Clear filters").click()
    expect(page).to_have_url(re.compile(r"\?state=scheduled$"))  # before typing: the fields show the address
    _filter(page, q=f"{token}-later")
    expect(_rows(page)).to_have_count(1)
    page.get_by_role("button", name=f"Cancel: {later}").click()
    expect(page.locator("#toast")).to_contain_text(f"{later} is cancelled.")
    expect(page.locator(".job-list .empty")).to_have_text("No job matches.")
    assert served.job(later)["state"] == "cancelled"


def test_a_search_cut_at_its_bound_searches_further_and_readers_select_nothing(
    served: Served, open_page: Callable[..., Session]
) -> None:
    token = uuid.uuid4().hex[:8]
    served.api("POST", f"{served.queue}/pause")
    try:
        oldest = served.enqueue("echo", f"{token}-oldest")
        _fill(served, 5_000)  # enqueued after it: newest first, it is past the first search's 5,000
        page = open_page(served, role="read", hash=f"#/queues/{served.queue}?q={token}").page
        note = page.locator(".search-note")
        expect(note).to_contain_text("Searched 5,000 of 5,001 queued jobs: 0 matches so far.")
        expect(page.locator(".job-list .empty")).to_have_text("No match in this part: search further.")
        page.get_by_role("button", name="Search further").click()
        expect(page.locator(f'tr[data-uid="{oldest}"]')).to_be_visible()
        expect(note).to_have_text("1 match from position 5,000 to the end of 5,001 queued jobs.")
        assert page.locator("input[type=checkbox]").count() == 0  # readers select nothing,
        assert (
            page.locator(".bulk-bar").count() == 0 and page.locator("[data-action]").count() == 0
        )  # act on nothing
        shot(page, served, "queue-search-further")
    finally:
        served.api("DELETE", f"{served.queue}/jobs", params={"state": "queued"})
        served.api("POST", f"{served.queue}/resume")
