"""Server-Sent Events on the wire: frames, comments and the headers every dashboard stream carries.

Frames are encoded once per change by the poller and the same bytes go to every browser, so the cost of
a poll does not grow with the number of browsers; only the writes do.
"""

from __future__ import annotations

from dataclasses import dataclass

PING_S = 15.0  # a comment line this often keeps proxies from closing an idle stream
HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once instead of buffering the response
    "X-Content-Type-Options": "nosniff",
}
MEDIA_TYPE = "text/event-stream"


@dataclass(frozen=True)
class Chunk:
    """Bytes to write to a stream as they are; `last`: the stream ends after them."""

    data: bytes
    last: bool = False


def frame(event: str, data: bytes, event_id: int | None = None) -> bytes:
    """One event. `data` is JSON (one line), but a line break would still be split into data lines."""
    head = b"" if event_id is None else b"id: %d\n" % event_id
    lines = b"".join(b"data: " + line + b"\n" for line in data.splitlines() or [b""])
    return head + b"event: " + event.encode() + b"\n" + lines + b"\n"


def comment(text: str) -> bytes:
    """A line that EventSource ignores: pings."""
    return b": " + text.replace("\n", " ").encode() + b"\n\n"
