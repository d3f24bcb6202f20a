"""Driving an ASGI app's lifespan in-process, as a server would (httpx's ASGITransport sends none)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from redisq.integrations.asgi.protocol import ASGIApp


@contextlib.asynccontextmanager
async def lifespan(app: ASGIApp, timeout: float = 30.0) -> AsyncIterator[list[dict[str, Any]]]:
    """Startup on enter, shutdown on exit; yields the messages the app sent back."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []
    answered = asyncio.Event()

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: Any) -> None:
        sent.append(dict(message))
        answered.set()

    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    )
    await inbox.put({"type": "lifespan.startup"})
    await asyncio.wait_for(answered.wait(), timeout)
    assert sent[-1]["type"] == "lifespan.startup.complete", sent
    try:
        yield sent
    finally:
        answered.clear()
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(answered.wait(), timeout)
        await asyncio.wait_for(task, timeout)
