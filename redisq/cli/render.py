"""Rich renderings of the admin layer's JSON payloads: one shape for `--json` and the tables alike."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from redisq.admin.payloads import JobBody, QueueSummary, WorkerBody


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}"


def queues_table(queues: Sequence[QueueSummary], rates: dict[str, float] | None = None) -> Table:
    """One row per queue; `rates` (jobs/s finished since the last refresh) adds a column (monitor)."""
    table = Table(title="queues")
    columns = ["queue", "queued", "limited", "scheduled", "active", "succeeded", "failed", "dead"]
    columns += ["per min", "fail/min", "oldest s"]
    if rates is not None:
        columns.append("jobs/s")
    for column in columns:
        table.add_column(column, justify="left" if column == "queue" else "right")
    for q in queues:
        row = [
            q["queue"] + (" (paused)" if q["paused"] else ""),
            *(str(v) for v in (q["queued"], q["limited"], q["scheduled"], q["active"])),
            str(q["counters"].get("succeeded", 0)),
            str(q["counters"].get("failed", 0)),
            str(q["dead"]),
            f"{q['throughput_per_minute']:.0f}",
            f"{q['failures_per_minute']:.0f}",
            _age(q["oldest_queued_age_s"]),
        ]
        if rates is not None:
            row.append(f"{rates.get(q['queue'], 0.0):.1f}")
        table.add_row(*row)
    return table


def jobs_table(jobs: Sequence[JobBody], title: str) -> Table:
    table = Table(title=title)
    for column in ("id", "task", "state", "attempts", "enqueued", "finished", "error"):
        table.add_column(column)
    for j in jobs:
        error = j["error"]
        table.add_row(
            j["id"],
            j["task"],
            j["state"],
            f"{j['attempts']}/{j['max_attempts']}",
            j["enqueued_at"] or "-",
            j["finished_at"] or "-",
            "" if error is None else f"{error['type']}: {error['message']}",
        )
    return table


def job_view(job: JobBody) -> RenderableType:
    """The record as key/value rows, then the traceback of its last failure as it was written."""
    table = Table(show_header=False, title=f"job {job['id']}")
    table.add_column("field", style="bold")
    table.add_column("value")
    fields = ("task", "state", "attempts", "max_attempts", "priority", "recovered", "worker", "request_id")
    for name in fields:
        table.add_row(name, str(job[name]))  # type: ignore[literal-required]
    for name in ("args", "kwargs", "result"):
        table.add_row(name, repr(job[name]))  # type: ignore[literal-required]
    for name in ("enqueued_at", "started_at", "finished_at", "due_at", "expires_at"):
        table.add_row(name, str(job[name] or "-"))  # type: ignore[literal-required]
    if job["progress"] is not None:
        table.add_row("progress", f"{job['progress']['value']:.0%} {job['progress']['note'] or ''}")
    error = job["error"]
    if error is None:
        return table
    table.add_row("error", f"{error['type']}: {error['message']}")
    if error["note"]:
        table.add_row("note", error["note"])
    return Group(table, Text("traceback:", style="bold"), Text(error["traceback"] or "(none)"))


def workers_table(workers: Sequence[WorkerBody]) -> Table:
    table = Table(title="workers")
    for column in ("id", "queues", "concurrency", "active", "processed", "started", "last seen"):
        table.add_column(
            column, justify="right" if column in ("concurrency", "active", "processed") else "left"
        )
    for w in workers:
        table.add_row(
            w["id"],
            ",".join(w["queues"]),
            str(w["concurrency"]),
            str(w["active"]),
            str(w["processed"]),
            w["started_at"],
            w["last_seen"],
        )
    return table
