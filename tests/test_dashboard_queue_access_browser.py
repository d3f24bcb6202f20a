"""Access per queue (issue 17) in the dashboard, in a real browser, on the FastAPI and the Flask app: a team
granted one queue sees that queue only, on every page (another queue's name is nowhere in the page), with
the actions its level allows there; the other queue's page is not found."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from playwright.sync_api import expect

from redisq import JobState, RedisQ

from .dashboardbrowserkit import Served, Session, card, shot

PAGES = ("#/", "#/metrics", "#/workers", "#/schedules")


def test_a_team_sees_its_queue_only_with_the_actions_of_its_level(
    served: Served, open_page: Callable[..., Session]
) -> None:
    hidden = f"hidden{uuid.uuid4().hex[:8]}"
    rq = RedisQ(served.redis_url, prefix=served.prefix)
    try:
        rq.task(name="dashboard.echo", queue=hidden)(_nothing).delay(1)
        dead = served.enqueue("fail", "for the team")
        served.wait_final(dead)

        page = open_page(served, role=f"team-read-{served.queue}").page
        expect(card(page, served)).to_be_visible()
        expect(page.locator("article.queue-card")).to_have_count(1)
        for where in PAGES:
            page.goto(served.url + where)
            expect(page.locator("h1")).to_be_visible()
            page.wait_for_timeout(300)  # the stream's first snapshot, the page's own reads
            assert hidden not in page.content(), where
        # Read-only there: the queue and its job offer no action.
        page.goto(f"{served.url}#/queues/{served.queue}?state=dead")
        expect(page.locator("table tbody tr").first).to_be_visible()
        expect(page.get_by_role("button", name="Pause")).to_have_count(0)
        page.goto(f"{served.url}#/jobs/{served.queue}/{dead}")
        expect(page.locator("h1")).to_be_visible()
        expect(page.get_by_role("button", name="Retry", exact=True)).to_have_count(0)
        # The other queue is not found, as one that does not exist.
        page.goto(f"{served.url}#/queues/{hidden}")
        expect(page.locator("main")).to_contain_text("No queue")
        shot(page, served, "team-hidden-queue")

        admin = open_page(served, role=f"team-admin-{served.queue}").page
        admin.goto(f"{served.url}#/queues/{served.queue}?state=dead")
        expect(admin.get_by_role("button", name="Pause")).to_be_visible()
        admin.goto(f"{served.url}#/jobs/{served.queue}/{dead}")
        expect(admin.get_by_role("button", name="Retry", exact=True)).to_be_visible()
        expect(admin.locator("article.queue-card")).to_have_count(0)  # not the overview: nothing stale
    finally:
        rq.purge_sync(hidden, JobState.QUEUED)
        rq.close()


def _nothing(*args: object) -> None: ...
