"""The dashboard in a real browser (a Chromium driven by Playwright), served by real servers.

Each test runs against FastAPI under uvicorn and against Flask under gunicorn (with `flask redisq worker`),
the dashboard mounted at `/ops/queues/`, a `role` cookie saying who the browser is. Screenshots of every
page go to tests/artifacts/ for a person to look at. The browser is the one `browserkit.find()` finds
(the nox `tests` session installs one first where there is none).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import expect

from redisq.core.embedded import EmbeddedServer, free_port, start_embedded
from redisq.core.keys import GlobalKeys

from .dashboardbrowserkit import (
    DASH,
    FLAVORS,
    IMG,
    ROOT,
    SCRIPT,
    Served,
    Session,
    card,
    count,
    cut_with_ellipsis,
    lines,
    shot,
    wait_until,
)

# ---- the tests ---------------------------------------------------------------------------------------


def test_the_page_parses_no_data_as_html_and_uses_relative_urls() -> None:
    """What the browser tests show for two payloads, held for every value: no script of the dashboard
    uses a DOM sink that parses HTML, and the page loads nothing inline or from an absolute URL."""
    static = ROOT / "redisq" / "dashboard" / "static"
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|srcdoc")
    for script in static.glob("*.js"):
        assert not sinks.search(script.read_text()), script.name
    page = (static / "index.html").read_text()
    assert re.findall(r"<script[^>]*>", page) == ['<script type="module" src="_static/app.js">']
    assert not re.search(r"\son[a-z]+=|\sstyle=|<style", page)
    for url in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert not url.startswith(("/", "http:", "https:")), url


def test_overview_loads_under_the_prefix(served: Served, open_page: Callable[..., Session]) -> None:
    page = open_page(served).page
    expect(card(page, served)).to_be_visible()
    expect(page.locator("#live")).to_have_text("Live")
    assert page.evaluate("document.querySelector('script[src]').src") == f"{served.url}_static/app.js"
    expect(page.locator(".summary-item").filter(has_text="Workers alive").locator("dd")).not_to_have_text("0")
    # Links are routes of the page itself; the queue's opens its jobs.
    card(page, served).get_by_role("link", name=served.queue, exact=True).click()
    expect(page.locator("h1")).to_have_text(served.queue)
    assert page.url == f"{served.url}#/queues/{served.queue}"
    page.go_back()
    expect(card(page, served)).to_be_visible()
    shot(page, served, "overview")
    phone = open_page(served, phone=True).page
    expect(card(phone, served)).to_be_visible()
    shot(phone, served, "overview-phone")


def test_counts_change_live_without_reload(served: Served, open_page: Callable[..., Session]) -> None:
    served.wait_idle()
    page = open_page(served).page
    expect(count(page, served, "queued")).to_have_text("0")
    succeeded = int(count(page, served, "succeeded").inner_text().replace(",", ""))
    page.evaluate("window.__sameDocument = true")
    served.api("POST", f"{served.queue}/pause")
    try:
        for n in range(3):
            served.enqueue("echo", n)
        expect(count(page, served, "queued")).to_have_text("3")
        expect(card(page, served).locator(".badge-paused")).to_be_visible()
    finally:
        served.api("POST", f"{served.queue}/resume")
    expect(count(page, served, "queued")).to_have_text("0")
    expect(count(page, served, "succeeded")).to_have_text(str(succeeded + 3))
    expect(card(page, served).locator(".badge-paused")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True  # updated in place: the page never reloaded


def test_retry_from_the_job_page(served: Served, open_page: Callable[..., Session], tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    uid = served.enqueue("flaky", str(flag))
    assert served.wait_final(uid)["state"] == "dead"
    page = open_page(served, hash=f"#/jobs/{served.queue}/{uid}").page
    expect(page.locator(".facts .badge")).to_have_text("dead")
    expect(page.locator(".error-line")).to_contain_text("no flag file at")
    shot(page, served, "job-dead")
    flag.write_text("ok")
    page.get_by_role("button", name="Retry", exact=True).click()
    # The job page follows the job's own stream: it turns succeeded and shows the result, with no reload.
    expect(page.locator(".facts .badge")).to_have_text("succeeded")
    expect(page.locator("#outcome-title")).to_have_text("Result")
    expect(page.locator("pre[aria-label='Result']")).to_have_text('"recovered"')
    assert served.job(uid)["state"] == "succeeded"
    shot(page, served, "job-succeeded")


def test_abort_a_running_job_from_its_page(served: Served, open_page: Callable[..., Session]) -> None:
    uid = served.enqueue("work", 300, 0.1)  # 30 s unless aborted
    wait_until(lambda: served.job(uid)["state"] == "active")
    page = open_page(served, hash=f"#/jobs/{served.queue}/{uid}").page
    expect(page.locator(".facts .badge")).to_have_text("active")
    expect(page.get_by_role("button", name="Delete…")).to_have_count(0)  # not while it runs
    page.get_by_role("button", name="Abort…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("without a retry")
    dialog.get_by_role("button", name="Abort job").click()
    # Async (FastAPI's worker) cancelled; plain def (Flask's) stopped at its next raise_if_aborted().
    expect(page.locator(".facts .badge")).to_have_text("aborted", timeout=5000)
    expect(page.locator(".step-label").filter(has_text="Aborted")).to_be_visible()
    expect(page.locator(".error-line")).to_contain_text("JobAborted")
    expect(page.get_by_role("button", name="Abort…")).to_have_count(0)
    job = served.job(uid)
    assert job["state"] == "aborted" and job["attempts"] == 1
    shot(page, served, "job-aborted")
    # From the queue's list of active jobs too.
    other = served.enqueue("work", 300, 0.1)
    wait_until(lambda: served.job(other)["state"] == "active")
    page = open_page(served, hash=f"#/queues/{served.queue}?state=active").page
    page.get_by_role("button", name=f"Abort: {other}").click()
    page.get_by_role("dialog").get_by_role("button", name="Abort job").click()
    wait_until(lambda: served.job(other)["state"] == "aborted", timeout=5)
    expect(page.get_by_role("button", name=f"Abort: {other}")).to_have_count(0)


def test_a_queue_shows_its_limits_and_the_jobs_waiting_on_them(
    served: Served, open_page: Callable[..., Session], tmp_path: Path
) -> None:
    flag = tmp_path / "open"
    uids = [served.enqueue("gated", str(flag)) for _ in range(3)]
    page = open_page(served, hash=f"#/queues/{served.queue}").page
    line = page.locator('[data-role="limits"]')
    expect(line).to_contain_text("dashboard.gated: at most 1 running (per key)")
    expect(line).to_contain_text("2 jobs waiting for room under a limit")  # one runs, two are set aside
    expect(page.locator(".job-list tr[data-uid]")).to_have_count(2)  # and the queued list shows them
    expect(page.locator(".tab-count").first).to_have_text("2")
    shot(page, served, "queue-limits")
    flag.write_text("go")
    for uid in uids:
        assert served.wait_final(uid)["state"] == "succeeded"
    expect(line).not_to_contain_text("waiting")
    expect(line).to_contain_text("dashboard.gated")


def test_job_values_stay_text(served: Served, open_page: Callable[..., Session]) -> None:
    echoed = served.enqueue("echo", {"html": SCRIPT, "attr": IMG, SCRIPT: [IMG]})
    failed = served.enqueue("fail", f"{SCRIPT} {IMG}")
    assert served.wait_final(echoed)["state"] == "succeeded"
    assert served.wait_final(failed)["state"] == "dead"
    session = open_page(served, hash=f"#/jobs/{served.queue}/{echoed}")
    page = session.page
    arguments = page.locator("pre[aria-label='Positional arguments']")
    expect(arguments).to_contain_text(SCRIPT)
    expect(arguments).to_contain_text("<img src=x onerror=alert(1)>")
    expect(page.locator("pre[aria-label='Result']")).to_contain_text(SCRIPT)
    page.goto(f"{served.url}#/jobs/{served.queue}/{failed}")
    expect(page.locator(".error-line")).to_have_text(f"RuntimeError: {SCRIPT} {IMG}")
    expect(page.locator(".traceback")).to_contain_text(f"{SCRIPT} {IMG}")
    shot(page, served, "job-xss")
    page.goto(f"{served.url}#/queues/{served.queue}?state=dead")
    expect(page.locator(f'tr[data-uid="{failed}"] .details')).to_contain_text(f"{SCRIPT} {IMG}")
    page.wait_for_timeout(300)  # a little time for anything that would run late
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1  # the app's own module, nothing parsed from data
    assert session.watch.dialogs == []


def test_queue_page_pages_finds_promotes_and_purges(
    served: Served, open_page: Callable[..., Session]
) -> None:
    served.wait_idle()
    served.api("POST", f"{served.queue}/pause")
    try:
        uids = [served.enqueue("echo", n) for n in range(30)]
        later = served.enqueue("echo", "later", delay_s=3600)
        page = open_page(served, hash=f"#/queues/{served.queue}").page
        expect(page.locator(".pager-text")).to_have_text(f"1{DASH}25 of 30")
        expect(page.locator(".job-list tbody tr")).to_have_count(25)
        expect(page.get_by_role("button", name="Resume queue")).to_be_visible()
        shot(page, served, "queue")
        page.get_by_role("link", name="Next →").click()
        expect(page.locator(".pager-text")).to_have_text(f"26{DASH}30 of 30")
        expect(page.locator(".job-list tbody tr")).to_have_count(5)
        # Oldest first, the first page starts with the first job enqueued.
        page.get_by_label("Order").select_option("oldest")
        expect(page.locator(".job-list tbody tr").first).to_have_attribute("data-uid", uids[0])

        page.get_by_label("Find a job by id").fill(uids[7])
        page.get_by_role("button", name="Find").click()
        expect(page.locator(".job-id")).to_have_text(f"{served.queue}:{uids[7]}")
        page.go_back()
        page.get_by_label("Find a job by id").fill("no-such-job")
        page.get_by_role("button", name="Find").click()
        expect(page.locator(".search-status")).to_contain_text("No job")

        page.get_by_role("link", name="Scheduled").click()
        expect(page.locator(f'tr[data-uid="{later}"]')).to_be_visible()
        page.get_by_role("button", name=f"Run now: {later}").click()
        expect(page.locator(".job-list .empty")).to_have_text("No scheduled jobs.")
        assert served.job(later)["state"] == "queued"

        page.get_by_role("link", name="Queued").click()
        expect(page.locator(".pager-text")).to_have_text(f"1{DASH}25 of 31")
        page.get_by_role("button", name="Purge queued…").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("31 queued jobs")
        dialog.get_by_role("button", name="Delete queued jobs").click()
        expect(page.locator(".job-list .empty")).to_have_text("No queued jobs.")
        assert served.api("GET", served.queue)["queued"] == 0
    finally:
        served.api("POST", f"{served.queue}/resume")


def test_workers_and_live_progress(served: Served, open_page: Callable[..., Session]) -> None:
    uid = served.enqueue("work", 16, 0.25)
    wait_until(lambda: served.job(uid)["state"] == "active")
    page = open_page(served, hash="#/workers").page
    row = page.locator("tbody.worker").filter(has_text=served.queue)
    expect(row).to_be_visible()
    expect(row.locator('td[data-label="PID"]')).not_to_be_empty()
    link = page.locator(f'a[href="#/jobs/{served.queue}/{uid}"]')
    if served.flavor == "fastapi":  # its worker beats every 0.5 s; `flask redisq worker` every 5 s
        expect(link).to_be_visible()
        shot(page, served, "workers")
        link.click()
    else:
        shot(page, served, "workers")
        page.get_by_role("link", name="Overview", exact=True).click()
        card(page, served).get_by_role("link", name=f"Active jobs in {served.queue}").click()
        page.get_by_role("link", name=uid).click()
    expect(page.locator(".facts .badge")).to_have_text("active")
    expect(page.locator(".progress-text")).to_contain_text("step")
    first = float(page.locator("#job-progress").evaluate("bar => bar.value"))
    shot(page, served, "job-progress")
    wait_until(lambda: float(page.locator("#job-progress").evaluate("bar => bar.value")) > first)
    expect(page.locator(".facts .badge")).to_have_text("succeeded")
    expect(page.locator(".progress-text")).to_have_text("100% · step 16 of 16")


LONG_TASK = "reports.rebuild_quarterly_revenue_summary"  # dashboard.reports.…: one word, no break in it


@contextlib.contextmanager
def far_worker(served: Served, jobs: list[str]) -> Iterator[str]:
    """A worker on a machine with a long name, as its heartbeat tells the dashboard (written here, as a
    worker writes it, because the test's own workers run on this machine, under its short name)."""
    host = "ip-10-220-148-37.eu-central-1.compute.internal"
    worker_id = f"{host}.4194301.{uuid.uuid4().hex[:8]}"
    keys = GlobalKeys(served.prefix)
    now = time.time()
    beat = {
        "id": worker_id,
        "host": host,
        "pid": 4194301,
        "queues": [served.queue, "reports-quarterly-revenue", "emails-transactional"],
        "concurrency": 10,
        "active": len(jobs),
        "jobs": [{"id": f"{served.queue}:{uid}", "task": f"dashboard.{LONG_TASK}", "started_at": now - 95}
                 for uid in jobs],
        "started_at": now - 7200,
        "last_seen": now,
        "processed": 1234567,
    }  # fmt: skip
    with redis.Redis.from_url(served.redis_url) as client:
        client.zadd(keys.workers, {worker_id: int(now * 1000)})
        client.set(keys.worker(worker_id), json.dumps(beat), px=60_000)
        try:
            yield worker_id
        finally:
            client.zrem(keys.workers, worker_id)
            client.delete(keys.worker(worker_id))


def test_workers_table_keeps_numbers_names_and_ids_whole(
    served: Served, open_page: Callable[..., Session], tmp_path: Path
) -> None:
    """Issue 11: the pid and "10 / 10" on one line, ids cut with an ellipsis rather than broken, current jobs
    with their task, queue and running time, task names whole."""
    served.wait_idle()
    flag = tmp_path / "done"
    uids = [served.enqueue(LONG_TASK, str(flag)) for _ in range(10)]
    try:
        wait_until(lambda: served.api("GET", served.queue)["active"] == 10, timeout=15)
        with far_worker(served, uids[:3]) as far_id:
            page = open_page(served, hash="#/workers").page

            def row_serving(queues: str | re.Pattern[str]) -> Any:
                return page.locator("main tr").filter(
                    has=page.locator('td[data-label="Queues"]', has_text=queues)
                )

            # Each worker's row of figures, then the group of its rows (its figures, its jobs).
            mine_row, far_row = row_serving(re.compile(f"^{served.queue}$")), row_serving("reports-quarterly")
            mine = page.locator("tbody.worker").filter(
                has=page.locator('td[data-label="Queues"]', has_text=re.compile(f"^{served.queue}$"))
            )
            far = page.locator(f'tbody[data-worker="{far_id}"]')
            # Flask's worker beats every 5 s: its busy count may take that long to reach 10.
            expect(mine_row.locator('td[data-label="Busy"]')).to_have_text("10 / 10", timeout=15_000)
            expect(far_row.locator('td[data-label="Busy"]')).to_have_text("3 / 10")
            expect(far_row.locator('td[data-label="Processed"]')).to_have_text(re.compile(r"^1.?234.?567$"))
            shot(page, served, "workers-busy")

            for row in (mine_row, far_row):
                for label in ("PID", "Busy", "Processed"):
                    cell = row.locator(f'td[data-label="{label}"]')
                    assert cell.evaluate("el => getComputedStyle(el).whiteSpace") == "nowrap", label
                    assert lines(cell) == 1, label
            expect(mine.locator(".current-job")).to_have_count(10)

            # The long worker id: one line, cut with an ellipsis, whole in its title.
            far_id_text = far.locator(".worker-id")
            assert far_id_text.get_attribute("title") == far_id
            assert lines(far_id_text) == 1 and cut_with_ellipsis(far_id_text)
            assert far_id_text.text_content() == far_id  # cut on screen only: copy and search get it all
            # Queue names wrap between names, never inside one.
            for name in far.locator(".queue-name").all():
                assert lines(name) == 1

            # Each current job: its task (a link to the job, its id in the title), its queue, how long it ran.
            for row, expected in ((mine, uids), (far, uids[:3])):
                jobs = row.locator(".current-job")
                shown = set()
                for i in range(jobs.count()):
                    job = jobs.nth(i)
                    link = job.locator("a.task-name")
                    expect(link).to_have_text(f"dashboard.{LONG_TASK}")
                    assert lines(link) == 1
                    href = link.get_attribute("href") or ""
                    assert href.startswith(f"#/jobs/{served.queue}/")
                    uid = href.rpartition("/")[2]
                    shown.add(uid)
                    assert (link.get_attribute("title") or "").endswith(f"job {served.queue}:{uid}")
                    expect(job.locator(".queue-name")).to_have_text(served.queue)
                    expect(job.locator("time")).to_have_text(re.compile(r"^\d[\d.,]* (ms|s|min)"))
                assert shown == set(expected)
            # Its heartbeat says they started 95 s before it was written.
            expect(far.locator(".current-job time").first).to_have_text(re.compile(r"^1 min( \d+ s)?$"))

            phone = open_page(served, phone=True, hash="#/workers").page
            phone_far = phone.locator(f'tbody[data-worker="{far_id}"]')
            expect(phone_far).to_be_visible()
            assert lines(phone_far.locator(".worker-id")) == 1
            assert lines(phone_far.locator('td[data-label="Busy"]')) == 1
            shot(phone, served, "workers-busy-phone")

            # A job's link opens its page.
            mine.locator(".current-job a.task-name").first.click()
            expect(page.locator(".facts .badge")).to_have_text("active")
    finally:
        flag.write_text("done")
    served.wait_idle()


def test_dead_list_keeps_task_names_whole(served: Served, open_page: Callable[..., Session]) -> None:
    message = "the revenue ledger for Q3 did not balance after reconciliation: " + "x" * 120
    uid = served.enqueue(LONG_TASK, "", message)
    assert served.wait_final(uid)["state"] == "dead"
    for phone in (False, True):
        page = open_page(served, phone=phone, hash=f"#/queues/{served.queue}?state=dead").page
        row = page.locator(f'tr[data-uid="{uid}"]')
        expect(row).to_be_visible()
        task = row.locator('td[data-label="Task"]')
        expect(task).to_have_text(f"dashboard.{LONG_TASK}")
        assert lines(task) == 1
        assert lines(row.locator('td[data-label="Attempts"]')) == 1
        shot(page, served, "queue-dead-long" + ("-phone" if phone else ""))


def test_a_queue_that_does_not_exist_offers_no_actions(
    served: Served, open_page: Callable[..., Session]
) -> None:
    """Issue 11: it said nothing of the queue, and offered Pause, Retry all dead and Purge."""
    name = f"no-such-{uuid.uuid4().hex[:8]}"
    page = open_page(served, hash=f"#/queues/{name}").page
    expect(page.locator("#live")).to_have_text("Live")
    expect(page.locator("main .job-list")).to_have_attribute("aria-busy", "false")  # its jobs were asked for
    page.wait_for_timeout(1_000)  # and snapshots keep coming: none may bring the actions back
    buttons = page.locator("main [data-action]")
    assert buttons.count() == 3
    for i in range(buttons.count()):
        expect(buttons.nth(i)).to_be_hidden()
        expect(buttons.nth(i)).to_be_disabled()
    expect(page.locator("main .tabs")).to_be_hidden()
    expect(page.locator("main .job-list")).to_be_hidden()
    expect(page.locator(".missing")).to_contain_text(f"No queue “{name}”")
    shot(page, served, "queue-missing")
    # A queue that exists, opened from there, gets its actions.
    page.goto(f"{served.url}#/queues/{served.queue}")
    expect(page.locator('main [data-action="requeue-dead"]')).to_be_visible()
    expect(page.locator('main [data-action="pause"], main [data-action="resume"]')).to_be_enabled()
    expect(page.locator(".missing")).to_be_hidden()


def test_readers_are_offered_no_actions(served: Served, open_page: Callable[..., Session]) -> None:
    dead = served.enqueue("fail", "for readers")
    assert served.wait_final(dead)["state"] == "dead"
    page = open_page(served, role="read", hash=f"#/queues/{served.queue}?state=dead").page
    expect(page.locator(f'tr[data-uid="{dead}"]')).to_be_visible()
    assert page.evaluate("document.body.dataset.access") == "read"
    assert page.locator("[data-action]").count() == 0
    assert page.get_by_role("button", name="Retry all dead").count() == 0
    shot(page, served, "queue-reader")
    page.get_by_role("link", name=dead).click()
    expect(page.locator(".facts .badge")).to_have_text("dead")
    assert page.locator("main button:not([data-copy])").count() == 0  # copying a traceback is not an action
    shot(page, served, "job-reader")


class OwnRedis:
    """A Redis server that a test stops and starts again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: EmbeddedServer | None = start_embedded(port=self.port)
        self.url = self.server.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def start(self) -> None:
        self.server = start_embedded(port=self.port)


@pytest.fixture(params=FLAVORS)
def own_redis(request: pytest.FixtureRequest) -> Iterator[tuple[Served, OwnRedis]]:
    redis = OwnRedis()
    app = Served(request.param, redis.url).start()
    try:
        yield app, redis
    finally:
        app.stop()
        redis.stop()


def color(locator: Any) -> str:
    return str(locator.evaluate("el => getComputedStyle(el).color"))


def test_while_redis_is_down_the_last_figures_stay_greyed(
    own_redis: tuple[Served, OwnRedis], open_page: Callable[..., Session]
) -> None:
    """Issue 11: not 'Workers alive 0' and '0 workers' in red under a banner saying they are from before.

    The server keeps its last good figures; one restarted during the outage has none, and the page keeps
    its own. Either way they are greyed, the red alarms too, until Redis is back.
    """
    served, redis = own_redis
    served.wait_final(served.enqueue("echo", 1))  # run before the pause (on a loaded machine it was not)
    served.api("POST", f"{served.queue}/pause")  # a waiting job: "oldest waiting" and a queued count
    served.enqueue("echo", 2)
    page = open_page(served).page
    banner = page.locator("#banner")
    alive = page.locator(".summary-item").filter(has_text="Workers alive").locator("dd")
    on_queue = card(page, served).locator(".rates .rate").last
    expect(alive).to_have_text("1")
    expect(on_queue).to_have_text("1 worker")
    expect(count(page, served, "queued")).to_have_text("1")
    expect(banner).to_be_hidden()
    live_color = color(alive)
    muted = color(page.locator(".summary-item dt").first)
    assert live_color != muted
    page.evaluate("window.__sameDocument = true")

    def still_the_last_figures(moment: str) -> None:
        expect(banner).to_contain_text("Redis is unreachable")
        expect(page.locator("#live")).to_have_text("Offline")
        expect(alive).to_have_text("1")
        expect(on_queue).to_have_text("1 worker")
        expect(count(page, served, "queued")).to_have_text("1")
        for figure in (alive, on_queue, count(page, served, "queued"), count(page, served, "succeeded")):
            assert color(figure) == muted, moment
        expect(banner).to_contain_text("the last known")
        shot(page, served, f"redis-down-{moment}")

    redis.stop()
    still_the_last_figures("kept-by-the-server")
    # The web server restarts while Redis is away: its poller has nothing from before.
    served.stop()
    served.start(ready=served.serves_the_page)
    expect(page.locator("#live")).to_have_text("Offline", timeout=20_000)
    expect(banner).to_contain_text("Redis is unreachable", timeout=20_000)
    still_the_last_figures("kept-by-the-page")

    redis.start()  # empty: the job and the pause are gone, the worker registers again
    expect(banner).to_be_hidden(timeout=20_000)
    expect(page.locator("#live")).to_have_text("Live")
    expect(count(page, served, "queued")).to_have_text("0")
    expect(alive).to_have_text("1", timeout=20_000)
    assert color(alive) == live_color
    assert page.evaluate("window.__sameDocument") is True
