"""The live dashboard: one static page (`static/`) and the streams that feed it, served by the admin mount.

    GET M/                          the page, for a browser's navigation (any other Accept: the JSON API)
    GET M/_static/<file>            its files
    GET M/_me                       {"access": "read" | "admin"}
    GET M/_events                   SSE: `snapshot` events (every queue, its hour, the live workers)
    GET M/{queue}/jobs/{uid}/events SSE: `job` events as the job changes, `end` at its final state

Every piece here is free of web frameworks: `page` (which answer, which headers), `sse` (the wire
format), `snapshot` (what one poll reads, as a sans-I/O operation) and `poller` (one per mount, shared by
every stream), and `feed_stream` (the streams of the adapters whose views are sync). The adapters are
`integrations/asgi/dashboard.py` (Starlette, FastAPI), `integrations/flask/dashboard.py` and
`integrations/django/`.
"""

from __future__ import annotations

from .poller import AsyncFeed, Poller, ThreadFeed
from .snapshot import QueueSnapshot, Snapshot, WorkerSnapshot

__all__ = ["AsyncFeed", "Poller", "QueueSnapshot", "Snapshot", "ThreadFeed", "WorkerSnapshot"]
