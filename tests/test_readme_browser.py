"""The README's JavaScript block, run in a real browser against both servers: a page of the app's own
following one job through its stream (the mount differs: the test apps mount the admin at /ops/queues/)."""

from __future__ import annotations

from collections.abc import Callable

from . import readmekit
from .dashboardbrowserkit import MOUNT, Served, Session


def test_the_readme_job_stream_snippet_follows_a_job_to_its_end(
    served: Served, open_page: Callable[..., Session]
) -> None:
    [block] = readmekit.of_kind("browser")
    assert "`/queues/" in block.code
    # The page first (it can take a second on a loaded machine), then a job long enough (8 x 0.25 s) for
    # its stream to open before it ends: enqueued before the page, a 0.8 s job had ended in a CI run.
    page = open_page(served).page  # a page of the same origin, holding the session cookie
    uid = served.enqueue("work", 8, 0.25)
    snippet = block.code.replace("`/queues/", f"`{MOUNT}")
    follow = (
        "([queue, uid]) => new Promise((resolve) => {\n"
        "  const seen = [];\n"
        "  const show = (job) => seen.push([job.state, job.progress && job.progress.value]);\n"
        f"{snippet}"
        '  events.addEventListener("end", () => resolve(seen));\n'
        "})"
    )
    seen = page.evaluate(follow, [served.queue, uid])
    states = [state for state, _ in seen]
    assert states[0] in ("queued", "active") and states[-1] == "succeeded", seen
    assert any(progress for _, progress in seen if progress is not None), seen  # progress came live
