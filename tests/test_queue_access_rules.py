"""Access per queue (issue 17), the rules alone: what a `QueueAccess` grants on each queue, how an auth
answer becomes a Grant with its 401/403/404, and what a scoped dashboard snapshot keeps."""

from __future__ import annotations

import pytest

from redisq.admin.access import Access, AccessPolicy, Grant, QueueAccess
from redisq.admin.errors import AccessDenied, NotAuthenticated, QueueNotFound
from redisq.admin.scope import scoped_snapshot

POLICY = AccessPolicy.build(has_auth=True, allow_anonymous=False, trusted_origins=(), max_body_bytes=1024)
TEAM = QueueAccess({"emails": Access.ADMIN, "reports-*": Access.READ, "reports-secret": None})


def test_exact_names_win_over_patterns_and_others_get_the_default() -> None:
    assert TEAM.level_for("emails") is Access.ADMIN
    assert TEAM.level_for("reports-daily") is Access.READ
    assert TEAM.level_for("reports-secret") is None  # named: the pattern does not reopen it
    assert TEAM.level_for("billing") is None
    assert QueueAccess({"emails": Access.ADMIN}, default=Access.READ).level_for("billing") is Access.READ
    assert TEAM.highest is Access.ADMIN and QueueAccess({"a": Access.READ}).highest is Access.READ


def test_a_bad_queue_access_is_refused_when_built() -> None:
    with pytest.raises(TypeError, match="an Access or None per queue"):
        QueueAccess({"emails": "admin"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="non-empty strings"):
        QueueAccess({"": Access.READ})


def test_an_answer_per_queue_is_checked_per_queue() -> None:
    for answer in (TEAM, {"emails": Access.ADMIN, "reports-*": Access.READ, "reports-secret": None}):
        grant = POLICY.grant(answer, Access.READ)
        assert grant.level is Access.ADMIN and not grant.every_queue
        assert POLICY.grant(answer, Access.ADMIN, queue="emails").for_queue("emails") is Access.ADMIN
        assert POLICY.grant(answer, Access.READ, queue="reports-x").for_queue("reports-x") is Access.READ
        with pytest.raises(AccessDenied, match="admin access to queue 'reports-x'"):
            POLICY.grant(answer, Access.ADMIN, queue="reports-x")
        for hidden in ("billing", "reports-secret"):  # as if it did not exist: a 404, not a 403
            with pytest.raises(QueueNotFound):
                POLICY.grant(answer, Access.READ, queue=hidden)
        with pytest.raises(AccessDenied, match="every queue"):
            POLICY.grant(answer, Access.READ, every_queue=True)
    with pytest.raises(AccessDenied, match="no queue is open"):
        POLICY.grant(QueueAccess({"emails": None}), Access.READ)
    reader = POLICY.grant(QueueAccess({"a": Access.READ}), Access.READ)
    with pytest.raises(AccessDenied):
        POLICY.grant(QueueAccess({"a": Access.READ}), Access.ADMIN)  # a route over every queue, to write
    assert reader.visible("a") and not reader.visible("b")


def test_an_answer_for_every_queue_is_unchanged() -> None:
    grant = POLICY.grant(Access.READ, Access.READ, queue="anything")
    assert grant == Grant(Access.READ) and grant.every_queue and grant.visible("anything")
    with pytest.raises(NotAuthenticated):
        POLICY.grant(None, Access.READ)
    with pytest.raises(TypeError, match="QueueAccess"):
        POLICY.grant("admin", Access.READ)


def test_a_scoped_snapshot_names_no_hidden_queue() -> None:
    content = {
        "seq": 3,
        "redis_ok": True,
        "queues": [{"queue": "emails", "queued": 1}, {"queue": "billing", "queued": 2}],
        "workers": [
            {
                "id": "w1",
                "queues": ["emails", "billing"],
                "jobs": [{"id": "billing:abc", "task": "charge"}, {"id": "emails:def", "task": "send"}],
                "active": 2,
            },
            {"id": "w2", "queues": ["billing"], "jobs": [], "active": 0},
        ],
    }
    scoped = scoped_snapshot(content, lambda queue: TEAM.level_for(queue) is not None)
    assert "billing" not in repr(scoped) and "charge" not in repr(scoped)
    assert [q["queue"] for q in scoped["queues"]] == ["emails"]
    assert scoped["workers"] == [
        {"id": "w1", "queues": ["emails"], "jobs": [{"id": "emails:def", "task": "send"}], "active": 1}
    ]
    assert content["queues"][1]["queue"] == "billing"  # the shared snapshot is left as it was
