"""ASGI's callables, typed here so the pure-ASGI parts need no framework, and the helpers they share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, TypeAlias

import orjson

from redisq.admin.errors import BodyTooLarge

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

# Where RedisQMiddleware leaves things in `scope["state"]` (Starlette's `request.state`).
STATE_KEY = "redisq"
LIFECYCLE_KEY = "redisq_lifecycle"


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (`name` lower-case), decoded as latin-1 like HTTP/1.1 does."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def route_path(scope: Scope) -> str:
    """The path below where the app is mounted (Starlette's Mount, a proxy's root_path)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


async def send_json(
    send: Send, status: int, body: object, headers: Sequence[tuple[bytes, bytes]] = (), head: bool = False
) -> None:
    data = orjson.dumps(body)
    start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*start_headers, *headers]})
    await send({"type": "http.response.body", "body": b"" if head else data})


def limit_body(receive: Receive, max_bytes: int) -> Receive:
    """`receive`, raising BodyTooLarge once the body passes `max_bytes` (a chunked body states no size)."""
    size = 0

    async def receive_limited() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > max_bytes:
                raise BodyTooLarge(f"request body over {max_bytes} bytes")
        return message

    return receive_limited
