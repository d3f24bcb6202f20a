"""The dashboard shows each queue's desired workers (core/autoscale.py) and follows it live, in a real
browser against FastAPI under uvicorn and Flask under gunicorn (tests/dashboardbrowserkit.py)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from .dashboardbrowserkit import Served, Session, card, shot, wait_until


def test_desired_workers_appear_and_follow_the_queue(
    served: Served, open_page: Callable[..., Session]
) -> None:
    served.wait_idle()
    page = open_page(served).page
    desired = card(page, served).locator(".rate-desired")
    expect(desired).to_have_text("desired 0")  # idle: an autoscaler may scale to zero
    page.evaluate("window.__sameDocument = true")
    uid = served.enqueue("work", 300, 0.1)  # runs 30 s unless aborted
    wait_until(lambda: served.job(uid)["state"] == "active")
    # One running job, none finished: it holds its slot, one worker is wanted (the one alive suffices).
    expect(desired).to_have_text("desired 1")
    expect(desired).not_to_have_class("rate rate-desired is-bad")
    assert served.api("GET", f"{served.queue}/backlog")["desired_workers"] == 1
    shot(page, served, "overview-desired-workers")
    served.api("POST", f"{served.queue}/jobs/{uid}/abort")
    assert served.wait_final(uid)["state"] == "aborted"
    expect(desired).to_have_text("desired 0")
    assert page.evaluate("window.__sameDocument") is True  # updated in place from the stream
