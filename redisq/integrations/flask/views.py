"""`/health` for Flask, with the ASGI side's answers (`redisq.admin.health`)."""

from __future__ import annotations

import weakref

from flask import Blueprint, Response, current_app, jsonify

from redisq.admin.health import LIVE, HealthAnswers, HealthBody
from redisq.core.client import RedisQ as Client


def health_blueprint(url: str) -> Blueprint:
    """`GET <url>` (and `<url>/ready`): readiness, 200 or 503; `<url>/live`: liveness, no Redis;
    `<url>/queues`: the queues' health, for monitoring. Flask answers HEAD and OPTIONS for each."""
    blueprint = Blueprint("redisq_health", __name__, url_prefix=url.rstrip("/"))
    # Per client (one per app), built on first use.
    answers: weakref.WeakKeyDictionary[Client, HealthAnswers] = weakref.WeakKeyDictionary()

    def answers_for() -> HealthAnswers:
        client: Client = current_app.extensions["redisq"].client
        if client not in answers:
            answers[client] = HealthAnswers(client)
        return answers[client]

    @blueprint.get("", strict_slashes=False)
    @blueprint.get("/ready")
    def readiness() -> tuple[Response, int]:
        return _answer(*answers_for().readiness_sync())

    @blueprint.get("/live")
    def liveness() -> Response:
        return _no_store(jsonify(LIVE))

    @blueprint.get("/queues")
    def queues_health() -> tuple[Response, int]:
        return _answer(*answers_for().queues_health_sync())

    return blueprint


def _answer(status: int, body: HealthBody) -> tuple[Response, int]:
    return _no_store(jsonify(body)), status


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
