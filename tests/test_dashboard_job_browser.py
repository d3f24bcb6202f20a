"""The job page's depth and the dashboard's look and feel (issue 17) in a real browser, on the FastAPI and
the Flask app: every attempt in a table, edit and retry with the server's refusal shown inline, readable
tracebacks with a copy button, times with their zone, the quick-jump box, and a 360 px screen without a
page that scrolls sideways. Screenshots of the job page in light and dark go to tests/artifacts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from .dashboardbrowserkit import DASH, Served, Session, shot

ZONED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC[+\u2212]\d\d:\d\d$")  # fmtStamp in dom.js


def job_page(open_page: Callable[..., Session], served: Served, uid: str, **options: object) -> Page:
    page = open_page(served, hash=f"#/jobs/{served.queue}/{uid}", **options).page
    expect(page.locator(".facts .badge")).to_be_visible()
    return page


def test_every_attempt_in_a_table_with_zoned_times(served: Served, open_page: Callable[..., Session]) -> None:
    uid = served.enqueue("third_time")
    assert served.wait_final(uid)["state"] == "succeeded"
    page = job_page(open_page, served, uid)
    rows = page.locator("table.attempts tbody tr")
    expect(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-outcome") for i in range(3)] == ["failed", "failed", "succeeded"]
    for i in range(2):
        error = rows.nth(i).locator('td[data-label="Error"]')
        expect(error).to_have_text(f"RuntimeError: attempt {i + 1} failed")  # its first line only
    expect(rows.nth(2).locator('td[data-label="Error"]')).to_have_text(DASH)
    for i in range(3):
        expect(rows.nth(i).locator('td[data-label="Attempt"]')).to_have_text(str(i + 1))
        expect(rows.nth(i).locator('td[data-label="Worker"]')).not_to_have_text(DASH)
        expect(rows.nth(i).locator('td[data-label="Duration"]')).to_have_text(
            re.compile(r"^\d+(\.\d)? (ms|s)$")
        )
        started = rows.nth(i).locator('td[data-label="Started"]')
        expect(started.locator("time")).to_have_text(re.compile(r"^(just now|\d+ s ago)$"))
        assert ZONED.match(started.locator(".when-abs").inner_text()), started.inner_text()
        assert ZONED.match(started.locator("time").get_attribute("title") or "")
    # The timeline shows both forms too.
    expect(page.locator(".step").first.locator(".when-abs")).to_have_text(ZONED)
    # The earlier failure's traceback is folded under the result, whole, with its exception line stressed.
    earlier = page.locator("details.earlier")
    earlier.locator("summary").first.click()
    expect(earlier.locator(".traceback-last")).to_have_text(
        "RuntimeError: attempt 2 failed\nwith a second line"
    )
    expect(earlier.locator(".traceback")).to_contain_text("with a second line")
    page.emulate_media(color_scheme="light")
    shot(page, served, "light-job-attempts")
    page.emulate_media(color_scheme="dark")
    shot(page, served, "dark-job-attempts")


def test_edit_and_retry_shows_a_refusal_inline_then_runs_the_job(
    served: Served, open_page: Callable[..., Session], tmp_path: Path
) -> None:
    missing, flag = tmp_path / "missing", tmp_path / "flag"
    flag.write_text("ok")
    uid = served.enqueue("flaky", str(missing))
    assert served.wait_final(uid)["state"] == "dead"
    page = job_page(open_page, served, uid)
    page.get_by_role("button", name="Edit and retry…").click()
    dialog = page.get_by_role("dialog", name="Edit and retry")
    editor = dialog.get_by_label("Arguments (JSON)")
    expect(editor).to_be_focused()
    assert json.loads(editor.input_value()) == {"args": [str(missing)], "kwargs": {}}
    page.keyboard.press("Escape")  # closes, nothing sent
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("button", name="Edit and retry…")).to_be_focused()

    page.get_by_role("button", name="Edit and retry…").click()
    editor.fill('{"args": [1, 2]}')
    dialog.get_by_role("button", name="Retry with these arguments").click()
    refusal = dialog.get_by_role("alert")
    expect(refusal).to_contain_text("arguments do not fit dashboard.flaky")  # the server's 422, inline
    expect(editor).to_have_attribute("aria-invalid", "true")
    editor.fill('{"args": [')
    dialog.get_by_role("button", name="Retry with these arguments").click()
    expect(refusal).to_contain_text("This is not valid JSON")
    assert served.job(uid)["state"] == "dead" and served.job(uid)["args"] == [str(missing)]
    shot(page, served, "job-edit-refused")

    editor.fill(json.dumps({"args": [str(flag)]}))
    dialog.get_by_role("button", name="Retry with these arguments").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("#toast")).to_contain_text("new arguments")
    expect(page.locator(".facts .badge")).to_have_text("succeeded")
    expect(page.locator("pre[aria-label='Positional arguments']")).to_contain_text(str(flag))
    rows = page.locator("table.attempts tbody tr")
    expect(rows).to_have_count(2)
    assert [rows.nth(i).get_attribute("data-outcome") for i in range(2)] == ["dead", "succeeded"]
    expect(rows.first.locator('td[data-label="Error"]')).to_contain_text("no flag file at")
    job = served.job(uid)
    assert (job["args"], job["result"], job["id"]) == ([str(flag)], "recovered", f"{served.queue}:{uid}")


def test_a_traceback_folds_and_copies_whole(served: Served, open_page: Callable[..., Session]) -> None:
    uid = served.enqueue("fail", "copy me\nand my second line")
    assert served.wait_final(uid)["state"] == "dead"
    session = open_page(served, hash=f"#/jobs/{served.queue}/{uid}")
    session.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=served.url.split("/ops")[0]
    )
    page = session.page
    traceback = page.locator("section.card-error .traceback")
    expect(traceback).to_be_visible()
    expect(traceback).to_have_css("font-family", re.compile("mono", re.IGNORECASE))
    last = page.locator("section.card-error .traceback-last")  # the exception, its message's lines too
    expect(last).to_have_text("RuntimeError: copy me\nand my second line")
    page.get_by_role("button", name="Copy the traceback").click()
    expect(page.locator("#toast")).to_contain_text("traceback is in the clipboard")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == served.job(uid)["error"]["traceback"] and "and my second line" in copied
    page.locator("section.card-error .traceback-details > summary").click()  # folds
    expect(traceback).to_be_hidden()
    page.locator("section.card-error .traceback-details > summary").press("Enter")  # and back, by keyboard
    expect(traceback).to_be_visible()


def test_quick_jump_to_a_job_a_queue_and_a_task(served: Served, open_page: Callable[..., Session]) -> None:
    uid = served.enqueue("echo", "jump here")
    assert served.wait_final(uid)["state"] == "succeeded"
    page = open_page(served).page
    expect(page.locator("#live")).to_have_text("Live")
    box = page.get_by_role("dialog", name="Jump to")
    field = page.get_by_role("combobox", name="Jump to")

    page.keyboard.press("/")
    expect(box).to_be_visible()
    expect(field).to_be_focused()
    field.fill(f"{served.queue}:{uid}")
    expect(page.locator(".jump-option").first).to_have_attribute("data-kind", "job")
    shot(page, served, "jump")
    page.keyboard.press("Enter")
    expect(box).to_be_hidden()
    expect(page).to_have_url(re.compile(f"#/jobs/{served.queue}/{uid}$"))
    expect(page.locator("h1")).to_have_text("dashboard.echo")

    page.keyboard.press("Control+k")  # from any page
    expect(box).to_be_visible()
    field.fill(served.queue)
    queue = page.locator('.jump-option[data-kind="queue"]')
    expect(queue).to_have_count(1)
    expect(page.locator(".jump-option").first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Escape")  # closes where it was
    expect(box).to_be_hidden()
    expect(page).to_have_url(re.compile(f"#/jobs/{served.queue}/{uid}$"))

    page.get_by_role("button", name="Jump to…").click()
    field.fill("dashboard.echo")
    task = page.locator('.jump-option[data-kind="task"]').filter(has_text=f"on {served.queue}")
    expect(task).to_have_count(1)  # from the queue's history: it ran there
    options = page.locator(".jump-option")
    for _ in range(options.count()):
        if task.get_attribute("aria-selected") == "true":
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"#/queues/{served.queue}\?task=dashboard\.echo$"))
    expect(page.locator("h1")).to_have_text(served.queue)

    page.locator("main").click()
    page.keyboard.press("?")  # the shortcuts
    expect(box.locator(".jump-keys")).to_be_visible()
    expect(box.locator(".jump-keys")).to_contain_text("Ctrl K")
    page.keyboard.press("Escape")
    expect(box).to_be_hidden()


def overflow(page: Page) -> list[str]:
    """What sticks out of a 360 px screen: the page's scroll width, and the elements wider than it (those
    inside a box that scrolls on its own are fine)."""
    found: list[str] = page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const out = [];
            const scrolled = document.documentElement.scrollWidth;
            if (scrolled > width) out.push(`page ${scrolled}`);
            for (const el of document.querySelectorAll("body *")) {
                const box = el.getBoundingClientRect();
                if (box.width === 0 || box.right <= width + 0.5) continue;
                let scroller = el.parentElement, inside = false;
                for (; scroller; scroller = scroller.parentElement) {
                    const style = getComputedStyle(scroller).overflowX;
                    inside = style === "auto" || style === "scroll" || style === "hidden";
                    if (inside) break;
                }
                if (!inside) out.push(`${el.tagName.toLowerCase()}.${el.className} ${Math.round(box.right)}`);
            }
            return out;
        }"""
    )
    return found


def test_a_360_px_screen_never_scrolls_sideways(served: Served, open_page: Callable[..., Session]) -> None:
    dead = served.enqueue("fail", "a long message " * 20)
    lucky = served.enqueue("third_time")
    assert served.wait_final(dead)["state"] == "dead"
    assert served.wait_final(lucky)["state"] == "succeeded"
    page = open_page(served, phone=True).page
    page.set_viewport_size({"width": 360, "height": 740})
    pages = {
        "overview": ("#/", ".queue-card"),
        "queue-dead": (f"#/queues/{served.queue}?state=dead", ".job-list tr[data-uid]"),
        "job-dead": (f"#/jobs/{served.queue}/{dead}", ".traceback"),
        "job-attempts": (f"#/jobs/{served.queue}/{lucky}", "table.attempts tbody tr"),
    }
    for name, (where, ready) in pages.items():
        page.goto(served.url + where)
        expect(page.locator(ready).first).to_be_visible()
        page.wait_for_timeout(300)  # live updates settle
        assert overflow(page) == [], name
        shot(page, served, f"360-{name}")
    page.get_by_role("button", name="Jump to…").click()
    expect(page.get_by_role("combobox", name="Jump to")).to_be_focused()
    assert overflow(page) == [], "the jump box"
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Jump to")).to_be_hidden()
