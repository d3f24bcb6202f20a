"""Access per queue (issue 17): an `auth` callable may answer with a `QueueAccess` (or a plain mapping) that
grants a level per queue, so that a team sees only its own queues (`QueueAccess` and `Grant` are in
access.py). Framework-free: the three adapters turn an answer into a `Grant` (`AccessPolicy.grant`) and
apply it the same way:

- a queue's routes (`/{queue}/...`): the level granted on that queue; none is a 404 `queue_not_found`, as
  for a queue that does not exist, so that a name is never confirmed to someone who may not see it;
- routes over every queue (`/`, `/_health`, `/_backlog`, `/_history`, `/_schedules`, `/_events`...):
  only the visible queues, and only what concerns them (a worker's other queues are left out of it);
- routes about the whole server (`/_redis`: its slow log names keys of every queue; `/_metrics`:
  Prometheus labels name every queue) need access to every queue: a 403 otherwise.

This module filters what the routes over every queue answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .access import Visible
from .payloads import HealthReportBody


def scoped_workers(workers: list[Any], visible: Visible) -> list[Any]:
    """The workers that serve a visible queue, with only those queues and the jobs they run of them."""
    out = []
    for w in workers:
        mine = [q for q in w["queues"] if visible(q)]
        if mine:
            jobs = [j for j in w.get("jobs") or [] if visible(j["id"].rpartition(":")[0])]
            out.append({**w, "queues": mine, "jobs": jobs, "active": len(jobs)})
    return out


def scoped_snapshot(content: Mapping[str, Any], visible: Visible) -> dict[str, Any]:
    """A dashboard snapshot (`{"queues": [...], "workers": [...], ...}`) with only the visible queues
    and workers (`scoped_workers`)."""
    queues = [q for q in content.get("queues") or [] if visible(q["queue"])]
    return {**content, "queues": queues, "workers": scoped_workers(content.get("workers") or [], visible)}


def scoped_health(body: HealthReportBody, visible: Visible) -> HealthReportBody:
    """The detailed health report with the checks, numbers and workers of visible queues only (the
    server's own checks stay: they are no queue's)."""
    problems = [p for p in body["problems"] if p["queue"] is None or visible(p["queue"])]
    names = {p["name"] for p in problems}
    failing = [n for n in body["failing"] if n in names]
    return {
        **body,
        "status": "failing" if failing else "ok",
        "failing": failing,
        "problems": problems,
        "queues": [q for q in body["queues"] if visible(q["queue"])],
        "workers": scoped_workers(list(body["workers"]), visible),
    }
