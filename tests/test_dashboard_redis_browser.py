"""The dashboard's Redis page (issue 17) in a real browser, on the FastAPI and the Flask app: version,
memory and the eviction policy of the server, a red warning while the policy may evict jobs, and the slow
log without the values commands wrote."""

from __future__ import annotations

import re
from collections.abc import Callable

import redis
from playwright.sync_api import expect

from .dashboardbrowserkit import Served, Session, shot


def test_redis_page_shows_the_server_and_warns_while_it_may_evict(
    served: Served, open_page: Callable[..., Session]
) -> None:
    raw = redis.Redis.from_url(served.redis_url)
    page = open_page(served, hash="#/redis").page
    expect(page.get_by_role("link", name="Redis", exact=True)).to_have_attribute("aria-current", "page")
    node = page.locator(".redis-node").first
    expect(node.locator('[data-field="policy"]')).to_have_text("noeviction")
    expect(node.locator('[data-field="memory"]')).to_contain_text(re.compile(r"\d+(\.\d)? (KB|MB) used"))
    expect(page.locator(".redis-warning")).to_have_count(0)
    try:
        pipe = raw.pipeline(transaction=True)  # logged alone: the app's worker runs commands meanwhile
        pipe.config_set("slowlog-log-slower-than", 0)
        pipe.set(f"{served.queue}:token", "s3cr3t-value")
        pipe.config_set("slowlog-log-slower-than", 10000)
        pipe.execute()
        raw.config_set("maxmemory-policy", "allkeys-lru")
        page.reload()
        expect(page.locator(".redis-warning")).to_contain_text("allkeys-lru")
        expect(node.locator('[data-field="policy"]')).to_have_text("allkeys-lru")
        expect(node.locator("table.slowlog")).to_contain_text(f"SET {served.queue}:token")
        expect(node).not_to_contain_text("s3cr3t-value")
        shot(page, served, "redis")
    finally:
        raw.config_set("maxmemory-policy", "noeviction")
        raw.config_set("slowlog-log-slower-than", 10000)
        raw.close()
    page.reload()
    expect(page.locator(".redis-warning")).to_have_count(0)
