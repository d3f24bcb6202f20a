"""`/health` for a Django project, with the answers of every adapter (`redisq.admin.health`):

    urlpatterns = [..., *health_urls()]   # GET /health (and /health/ready), /health/live, /health/queues

`/health` and `/health/ready` are readiness (200, or 503 when Redis cannot be reached in its budget),
`/health/live` liveness (no Redis), `/health/queues` the queues' health for monitoring. No login: load
balancers and probes call them. Each path answers with or without a trailing slash (a probe would not
follow APPEND_SLASH's redirect).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from redisq.admin.health import LIVE, HealthAnswers, HealthBody
from redisq.core.client import RedisQ

from .state import client as project_client


def _answer(status: int, body: Mapping[str, Any] | HealthBody) -> HttpResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def health_urls(prefix: str = "health", client: RedisQ | None = None) -> list[URLPattern]:
    """The health routes at `prefix` (no slashes), on `client` (default: the project's)."""
    answers: weakref.WeakKeyDictionary[RedisQ, HealthAnswers] = weakref.WeakKeyDictionary()

    def answers_for() -> HealthAnswers:
        rq = client or project_client()
        if rq not in answers:
            answers[rq] = HealthAnswers(rq)
        return answers[rq]

    @csrf_exempt
    @require_safe
    def readiness(request: HttpRequest) -> HttpResponse:
        return _answer(*answers_for().readiness_sync())

    @csrf_exempt
    @require_safe
    def liveness(request: HttpRequest) -> HttpResponse:
        return _answer(200, LIVE)

    @csrf_exempt
    @require_safe
    def queues_health(request: HttpRequest) -> HttpResponse:
        return _answer(*answers_for().queues_health_sync())

    base = re.escape(prefix.strip("/"))
    return [
        re_path(rf"^{base}(?:/ready)?/?$", readiness, name="redisq-health"),
        re_path(rf"^{base}/live/?$", liveness, name="redisq-health-live"),
        re_path(rf"^{base}/queues/?$", queues_health, name="redisq-health-queues"),
    ]
