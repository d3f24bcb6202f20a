"""Pure ASGI integration (any ASGI framework; the admin app needs Starlette: `pip install 'redisq[asgi]'`).

app = RedisQMiddleware(app, redisq=rq, workers=1)     # or app.add_middleware(RedisQMiddleware, ...)
app.mount("/queues", admin_app(rq, auth=...))
app.mount("/health", HealthApp(rq))
"""

from __future__ import annotations

from .health import HealthApp, readiness_body
from .lifecycle import Lifecycle
from .middleware import RedisQMiddleware
from .protocol import LIFECYCLE_KEY, STATE_KEY
from .request_context import enqueue_after_response

__all__ = [
    "LIFECYCLE_KEY",
    "STATE_KEY",
    "HealthApp",
    "Lifecycle",
    "RedisQMiddleware",
    "enqueue_after_response",
    "readiness_body",
]

