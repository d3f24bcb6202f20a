"""Workflows under SIGKILL (issue 16): 200 chords of 20 children each while the worker process is killed
three times mid-run. Every chord's callback must be released exactly once, after all its children, with
each child's result; a callback runs again only if it was itself in flight at a kill (at-least-once, as
every job)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from redisq import JobState, chord, group

from .test_faults import Fault, fault_world

pytestmark = pytest.mark.slow

CHORDS, SIZE = 200, 20


def test_200_chords_survive_three_sigkills_and_each_callback_runs_once_with_every_result(
    redis_url: str, tmp_path: Path
) -> None:
    with fault_world(redis_url, tmp_path) as f:
        _run(f)


def _run(f: Fault) -> None:
    work, done = f.rq.get_task("fault.work"), f.rq.get_task("fault.chord_done")
    started = time.monotonic()
    flows = [
        f.rq.enqueue_workflow_sync(
            chord(
                group(work.call(c * 100 + i, 0.005) for i in range(SIZE)), then=done.call(chord=c, size=SIZE)
            )
        )
        for c in range(CHORDS)
    ]
    callbacks = [flow.last[0].id for flow in flows]
    assert f.stats().waiting == CHORDS
    total = CHORDS * (SIZE + 1)

    worker = f.workers.start(concurrency=20, lease=1)
    kills: list[tuple[int, int]] = []  # (succeeded, waiting) at each kill
    for threshold in (1000, 2200, 3400):
        f.wait(lambda t=threshold: f.stats().succeeded >= t, 90, f"{threshold} jobs succeeded")
        worker.kill()
        s = f.stats()
        kills.append((s.succeeded, s.waiting))
        assert s.succeeded < total, f"the run ended before the kill ({s}): make the jobs slower"
        time.sleep(1.2)  # the dead worker's leases lapse; the next one's sweep takes them back
        worker = f.workers.start(concurrency=20, lease=1)

    final = f.wait(
        lambda: (s := f.stats()).succeeded >= total and s.queued == s.active == s.waiting == 0 and s,
        120,
        f"all {total} jobs succeeded",
    )
    worker.send(signal.SIGTERM)
    assert worker.wait_exit(20) == 0, f.workers.logs()

    assert final.succeeded == total and final.dead == 0 and final.failed == 0
    assert f.raw.llen(f.rq.queue_keys(f.queue).outbox) == 0
    infos = {i.id: i for i in f.infos(callbacks)}
    assert [c for c in callbacks if infos[c].state is not JobState.SUCCEEDED] == []
    starts, runs = f.counts(f"{f.prefix}:chord_starts"), f.counts(f"{f.prefix}:chord_runs")
    whole = f.counts(f"{f.prefix}:chord_whole")
    # Each callback got every result of its chord, in order, on every run.
    assert whole == runs and sorted(runs) == list(range(CHORDS))
    # Released once: a callback has no attempt but those its recoveries explain; and one that ran twice
    # was in flight at a kill.
    assert [c for c, i in infos.items() if i.attempts != 1 + i.recovered] == []
    twice = [c for c in range(CHORDS) if runs[c] > 1]
    assert [c for c in twice if infos[callbacks[c]].recovered == 0] == []
    assert final.counters["recovered"] > 0, "no kill caught a job in flight: the test proved nothing"
    children_runs = f.runs()
    assert len(children_runs) == CHORDS * SIZE
    print(
        f"\n[chords] {CHORDS} chords x {SIZE} children in {time.monotonic() - started:.1f}s; "
        f"(succeeded, waiting) at each kill: {kills}; recovered deliveries: {final.counters['recovered']}; "
        f"callbacks run exactly once: {sum(1 for c in range(CHORDS) if runs[c] == 1)}/{CHORDS}, "
        f"started more than once: {sum(1 for c in range(CHORDS) if starts[c] > 1)}, "
        f"completed twice (in flight at a kill): {len(twice)}; "
        f"children completed twice: {sum(1 for n in children_runs.values() if n > 1)}"
    )
