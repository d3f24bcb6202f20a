"""Per request: the request id and trace context for jobs it enqueues, and after-request jobs."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, current_app, g, has_request_context, jsonify, request

from redisq.core.errors import RedisUnavailable
from redisq.core.task import JobSpec
from redisq.integrations.web import RequestTokens, bind_request, collect_specs, unbind_request

REQUEST_ID_HEADER = "X-Request-ID"


def install(app: Flask) -> None:
    app.before_request(_bind_context)
    app.after_request(_after_request)
    app.teardown_request(_unbind_context)


def _bind_context() -> None:
    g.redisq_request_id, g.redisq_tokens = bind_request(
        request.headers.get(REQUEST_ID_HEADER), request.headers.get("traceparent")
    )
    g.redisq_after_request = []


def _after_request(response: Response) -> Response:
    request_id = g.get("redisq_request_id")
    pending: list[JobSpec] = g.pop("redisq_after_request", [])
    if pending and response.status_code < 400:
        try:
            current_app.extensions["redisq"].client.enqueue_many_sync(pending)
        except RedisUnavailable:
            current_app.logger.exception(
                "request %s: %d after-request job(s) not enqueued", request_id, len(pending)
            )
            response = jsonify(detail="background jobs could not be stored; retry")
            response.status_code = 503
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _unbind_context(exc: BaseException | None) -> None:
    tokens: RequestTokens | None = g.pop("redisq_tokens", None)
    if tokens is not None:
        unbind_request(tokens)


def enqueue_after_request(*specs: JobSpec | Iterable[JobSpec]) -> None:
    """Enqueue these jobs (from `task.call(...)`) if the view answers with a status below 400.

    They are written before the response leaves; if Redis cannot take them, the client gets a 503.
    """
    pending = g.get("redisq_after_request") if has_request_context() else None
    if pending is None:
        raise RuntimeError(
            "enqueue_after_request() needs a request handled by an app with RedisQ initialized"
        )
    collect_specs(pending, specs)
