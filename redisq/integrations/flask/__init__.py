"""Flask integration (`pip install 'redisq[flask]'`).

redisq = RedisQ(app)                 # or RedisQ() and redisq.init_app(app) in the app factory

@redisq.task("reports", retries=3)
def build_report(report_id: int) -> None: ...   # runs inside app.app_context()

build_report.delay(7)                # from a view: carries the request's X-Request-ID and traceparent
enqueue_after_request(build_report.call(7))     # only if the view answers below 400

$ flask redisq worker --queues reports --concurrency 8
"""

from __future__ import annotations

try:
    import flask  # noqa: F401
except ModuleNotFoundError as exc:
    from redisq.core.errors import MissingDependency

    raise MissingDependency("the Flask integration needs: pip install 'redisq[flask]'") from exc

from .extension import AppState, RedisQ
from .requests import enqueue_after_request
from .tasks import FlaskTask

__all__ = ["AppState", "FlaskTask", "RedisQ", "enqueue_after_request"]
