"""The `role` cookie of the dashboard's test apps (dashboardapp.py, dashboardflask.py): `admin`, `read`, or
`team-<level>-<queue>`, that level on that one queue (access per queue, issue 17)."""

from __future__ import annotations

from redisq.admin.access import Access, QueueAccess


def role(value: str | None) -> Access | QueueAccess | None:
    if value and value.startswith("team-"):
        _, level, queue = value.split("-", 2)
        return QueueAccess({queue: Access(level)})
    return {"admin": Access.ADMIN, "read": Access.READ}.get(value or "")
