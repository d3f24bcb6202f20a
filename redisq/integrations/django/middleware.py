"""`redisq.django.middleware.RequestContextMiddleware`: the request id and trace context of each request, for
the jobs it enqueues, as the ASGI middleware and the Flask extension keep them.

A request's `X-Request-ID` (a new one if it has none, or an unusable one) and a valid `traceparent` travel in
the envelope of every job the request enqueues; the job's logs and spans carry them. The response says the
id back in `X-Request-ID`. It works under WSGI and ASGI (Django calls it as a coroutine there).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from redisq.integrations.web import RequestTokens, bind_request, unbind_request

REQUEST_ID_HEADER = "X-Request-ID"


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
            unbind_request(tokens)
        response[REQUEST_ID_HEADER] = request_id
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        request_id, tokens = self._bind(request)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
        finally:
            unbind_request(tokens)
        response[REQUEST_ID_HEADER] = request_id
        return response  # type: ignore[no-any-return]

    @staticmethod
    def _bind(request: HttpRequest) -> tuple[str, RequestTokens]:
        request_id, tokens = bind_request(
            request.headers.get(REQUEST_ID_HEADER), request.headers.get("traceparent")
        )
        request.redisq_request_id = request_id  # type: ignore[attr-defined]
        return request_id, tokens
