"""The dashboard's metrics over time (issue 17) in a real browser, on the FastAPI and the Flask app: a
queue's tasks with their counts and percentiles, the slowest and the most failing, a range picker, one
task's charts; the overview's whole-system panel, and its queues sorted by what needs attention."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from redisq import JobState, RedisQ

from .dashboardbrowserkit import DASH, Served, Session, card, shot


def test_a_queues_metrics_show_its_tasks_and_follow_the_range(
    served: Served, open_page: Callable[..., Session]
) -> None:
    for i in range(3):
        served.enqueue("echo", i)
    for i in range(2):
        served.enqueue("fail", f"boom {i}")
    served.wait_idle()
    page = open_page(served, hash=f"#/metrics/{served.queue}").page
    expect(page.get_by_role("link", name="Metrics", exact=True)).to_have_attribute("aria-current", "page")
    echo = page.locator('table.totals tr[data-row="dashboard.echo"]')
    fail = page.locator('table.totals tr[data-row="dashboard.fail"]')
    expect(echo.locator('[data-col="Succeeded"]')).to_have_text("3")
    expect(fail.locator('[data-col="Failed"]')).to_have_text("2")
    expect(fail.locator('[data-col="Failure %"]')).to_have_text("100.0%")
    expect(echo.locator('[data-col="Run p95"]')).not_to_have_text(DASH)
    # What needs attention first: the failing task heads the table (sorted by failures).
    expect(page.locator("table.totals tbody tr").first).to_have_attribute("data-row", "dashboard.fail")
    expect(page.locator('[data-top="failing"] li').first).to_contain_text("dashboard.fail")
    expect(page.locator('[data-chart="attempts"] rect.bar-ok')).not_to_have_count(0)
    expect(page.locator('[data-chart="attempts"] rect.bar-failed')).not_to_have_count(0)
    expect(page.locator('[data-chart="latency"] path.line-run')).to_have_count(1)
    shot(page, served, "metrics-queue")

    page.get_by_role("button", name="72h").click()
    expect(page).to_have_url(f"{served.url}#/metrics/{served.queue}?range=72h")
    expect(page.get_by_role("button", name="72h")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".page-sub")).to_contain_text("72 hours, one point per 15 min")
    expect(echo.locator('[data-col="Succeeded"]')).to_have_text("3")
    page.locator("table.totals").get_by_role("link", name="dashboard.echo").click()
    expect(page.locator(".page-sub")).to_contain_text("Task dashboard.echo")
    expect(page.locator(".page-sub")).to_contain_text("72 hours")
    expect(page.locator("table.totals tbody tr")).to_have_count(1)
    page.emulate_media(color_scheme="dark")
    shot(page, served, "dark-metrics-task")
    page.emulate_media(color_scheme="light")

    # Sorting by a column's header.
    page.goto(f"{served.url}#/metrics/{served.queue}")
    page.locator("table.totals").get_by_role("button", name="Succeeded").click()
    expect(page.locator("table.totals tbody tr").first).to_have_attribute("data-row", "dashboard.echo")


def test_the_overview_charts_every_queue_and_puts_what_needs_attention_first(
    served: Served, open_page: Callable[..., Session]
) -> None:
    served.enqueue("fail", "for the overview")
    served.wait_idle()
    # A queue that sorts first by name and that no worker serves: it needs attention, yet less than a
    # queue whose jobs fail now.
    unserved = f"a-{served.queue}"
    rq = RedisQ(served.redis_url, prefix=served.prefix)
    rq.task(name="dashboard.echo", queue=unserved)(_nothing).delay(1)
    page = open_page(served, hash="#/").page
    panel = page.locator(".system-panel")
    expect(panel.locator('[data-chart="attempts"] rect.bar-failed')).not_to_have_count(0)
    panel.get_by_role("button", name="24h").click()
    expect(panel.get_by_role("button", name="24h")).to_have_attribute("aria-pressed", "true")
    expect(panel.locator('[data-chart="attempts"] rect.bar-failed')).not_to_have_count(0)
    cards = page.locator("article.queue-card")
    expect(cards.first).to_have_attribute("data-queue", served.queue)
    expect(card(page, served)).to_have_class(r"card queue-card needs-attention")
    page.locator("#queue-order").select_option("name")
    expect(cards.first).to_have_attribute("data-queue", unserved)
    card(page, served).get_by_role("link", name="metrics").click()
    expect(page.locator("h1")).to_have_text(f"Metrics · {served.queue}")
    rq.purge_sync(unserved, JobState.QUEUED)
    rq.close()


def _nothing(*args: object) -> None: ...
