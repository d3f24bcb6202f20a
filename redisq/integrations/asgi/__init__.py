"""Pure ASGI integration (any ASGI framework; the admin app needs Starlette: `pip install 'redisq[asgi]'`).

app = RedisQMiddleware(app, redisq=rq, workers=1)     # or app.add_middleware(RedisQMiddleware, ...)
app.mount("/queues", admin_app(rq, auth=...))
app.mount("/health", HealthApp(rq))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .health import HealthApp
from .lifecycle import Lifecycle
from .middleware import RedisQMiddleware
from .protocol import LIFECYCLE_KEY, STATE_KEY
from .request_context import enqueue_after_response

if TYPE_CHECKING:
    from .admin import admin_app

__all__ = [
    "LIFECYCLE_KEY",
    "STATE_KEY",
    "HealthApp",
    "Lifecycle",
    "RedisQMiddleware",
    "admin_app",
    "enqueue_after_response",
]


def __getattr__(name: str) -> Any:
    # The admin app needs Starlette; the middleware and health app need nothing beyond the core.
    if name == "admin_app":
        from .admin import admin_app

        return admin_app
    raise AttributeError(name)
