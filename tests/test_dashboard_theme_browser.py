"""The dashboard's dark mode (issue 17) in a real browser, on the FastAPI and the Flask app: it follows the
system's `prefers-color-scheme`, the toggle overrides it (auto, dark, light) and the choice outlives a
reload; every page is shot in both modes (tests/artifacts) to be looked at."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from .dashboardbrowserkit import Served, Session, shot

LIGHT, DARK = "rgb(246, 247, 249)", "rgb(18, 21, 28)"  # --bg of each (app.css)
PAGES = {
    "overview": "#/",
    "metrics": "#/metrics",
    "workers": "#/workers",
    "schedules": "#/schedules",
    "redis": "#/redis",
}


def background(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def shoot_every_page(page: Page, served: Served, mode: str) -> None:
    for name, where in PAGES.items():
        page.goto(served.url + where)
        expect(page.locator("h1")).to_be_visible()
        shot(page, served, f"{mode}-{name}")


def test_dark_mode_follows_the_system_and_the_toggle_overrides_it(
    served: Served, open_page: Callable[..., Session]
) -> None:
    page = open_page(served).page
    page.emulate_media(color_scheme="dark")
    toggle = page.get_by_role("button", name="Theme: follows the system")
    expect(toggle).to_be_visible()
    assert background(page) == DARK
    page.emulate_media(color_scheme="light")
    assert background(page) == LIGHT

    toggle.click()  # auto -> dark, whatever the system says
    expect(page.get_by_role("button", name="Theme: dark")).to_be_visible()
    assert background(page) == DARK
    shoot_every_page(page, served, "dark")
    page.reload()  # kept in this browser
    expect(page.get_by_role("button", name="Theme: dark")).to_be_visible()
    assert background(page) == DARK

    page.emulate_media(color_scheme="dark")
    page.get_by_role("button", name="Theme: dark").click()  # dark -> light, though the system is dark
    expect(page.get_by_role("button", name="Theme: light")).to_be_visible()
    assert background(page) == LIGHT
    shoot_every_page(page, served, "light")
    page.get_by_role("button", name="Theme: light").click()  # back to the system's
    expect(page.get_by_role("button", name="Theme: follows the system")).to_be_visible()
    assert background(page) == DARK
