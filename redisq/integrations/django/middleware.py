"""`redisq.django.middleware.RequestContextMiddleware`: the request id and trace context of each request, for
the jobs it enqueues, as the ASGI middleware and the Flask extension keep them.

A request's `X-Request-ID` (a new one if it has none, or an unusable one) and a valid `traceparent` travel in
the envelope of every job the request enqueues; the job's logs and spans carry them. The response says the
id back in `X-Request-ID`. It works under WSGI and ASGI (Django calls it as a coroutine there).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import Token

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from redisq.core import context
from redisq.integrations.web import request_id_from, valid_traceparent

REQUEST_ID_HEADER = "X-Request-ID"

Tokens = tuple[Token[str | None], Token[str | None]]


class RequestContextMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self._acall(request)
        request_id, tokens = self._bind(request)
        try:
            response = self.get_response(request)
        finally:
            self._unbind(tokens)
        response[REQUEST_ID_HEADER] = request_id
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        request_id, tokens = self._bind(request)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
        finally:
            self._unbind(tokens)
        response[REQUEST_ID_HEADER] = request_id
        return response  # type: ignore[no-any-return]

    @staticmethod
    def _bind(request: HttpRequest) -> tuple[str, Tokens]:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.redisq_request_id = request_id  # type: ignore[attr-defined]
        tokens = (
            context.request_id.set(request_id),
            context.traceparent.set(valid_traceparent(request.headers.get("traceparent"))),
        )
        return request_id, tokens

    @staticmethod
    def _unbind(tokens: Tokens) -> None:
        context.traceparent.reset(tokens[1])
        context.request_id.reset(tokens[0])
