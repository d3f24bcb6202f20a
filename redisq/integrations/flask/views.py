"""`/health` for Flask, with the ASGI side's exact verdict and JSON (both use `integrations.web`)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from redisq.integrations.web import LIVE, readiness_body


def health_blueprint(url: str) -> Blueprint:
    """`GET <url>` (and `<url>/ready`): readiness, 200 or 503; `GET <url>/live`: liveness, no Redis."""
    blueprint = Blueprint("redisq_health", __name__, url_prefix=url.rstrip("/"))

    @blueprint.get("", strict_slashes=False)
    @blueprint.get("/ready")
    def readiness() -> tuple[Response, int]:
        report = current_app.extensions["redisq"].client.health_sync()
        status, body = readiness_body(report, None)
        return _no_store(jsonify(body)), status

    @blueprint.get("/live")
    def liveness() -> Response:
        return _no_store(jsonify(LIVE))

    return blueprint


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
