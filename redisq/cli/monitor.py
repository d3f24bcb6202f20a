"""`monitor`: a live view of the queues, their rates and the workers, refreshed like `top`.

Each refresh is two round trips (every queue's stats at once, then the live workers); the jobs/s column
is the finished attempts (succeeded + failed counters) since the previous refresh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import click
from rich.console import Group, RenderableType
from rich.live import Live
from rich.text import Text

from redisq.admin.payloads import queue_summary, worker_body
from redisq.core.client import RedisQ

from .output import console, operator_command
from .render import queues_table, workers_table
from .target import current_target


@dataclass
class Rates:
    """Finished attempts per queue at the previous refresh, to turn counters into jobs/s."""

    seen: dict[str, int] = field(default_factory=dict)
    at: float = 0.0

    def update(self, finished: dict[str, int], now: float) -> dict[str, float]:
        elapsed = now - self.at
        rates = {
            q: max(0, n - self.seen[q]) / elapsed if self.at and elapsed > 0 and q in self.seen else 0.0
            for q, n in finished.items()
        }
        self.seen, self.at = finished, now
        return rates


def snapshot(rq: RedisQ, rates: Rates) -> RenderableType:
    names = sorted({*rq.known_queues_sync(), *(t.queue for t in rq.tasks.values())})
    stats = rq.stats_many_sync(names) if names else []
    live = [worker_body(w) for w in rq.workers_sync()]
    per_second = rates.update({s.queue: s.succeeded + s.failed for s in stats}, time.monotonic())
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    totals = (
        f"redisq monitor  {now}  queues {len(names)}  queued {sum(s.queued for s in stats)}  "
        f"active {sum(s.active for s in stats)}  dead {sum(s.dead for s in stats)}  "
        f"jobs/s {sum(per_second.values()):.1f}  workers {len(live)}"
    )
    return Group(
        Text(totals, style="bold"),
        queues_table([queue_summary(s) for s in stats], per_second),
        workers_table(live),
    )


@click.command("monitor")
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 60),
    default=1.0,
    show_default=True,
    help="Seconds between refreshes.",
)
@click.option("--once", is_flag=True, help="Print one view (rates over one interval) and exit.")
@click.option("--iterations", type=click.IntRange(1), help="Exit after this many refreshes.")
@operator_command
def monitor(interval: float, once: bool, iterations: int | None) -> None:
    """A live view of every queue (gauges, rates), and the workers; Ctrl-C to quit."""
    rq = current_target().client()
    rates = Rates()
    out = console(200)
    if once:  # two reads an interval apart, so that the rates are measured
        snapshot(rq, rates)
        time.sleep(interval)
        out.print(snapshot(rq, rates))
        return
    done = 0
    try:
        with Live(snapshot(rq, rates), console=out, auto_refresh=False, screen=out.is_terminal) as live:
            while iterations is None or (done := done + 1) < iterations:
                time.sleep(interval)
                live.update(snapshot(rq, rates), refresh=True)
    except KeyboardInterrupt:
        pass
