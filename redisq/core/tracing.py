"""OpenTelemetry spans for enqueueing and running jobs, per the messaging semantic conventions (issue 14).

Optional: with `opentelemetry-api` missing (`pip install 'redisq[otel]'`), or no tracer provider set
(neither `trace.set_tracer_provider(...)` nor `RedisQ.tracing.use(provider)`), `Tracing.tracer()` answers
None and the enqueue path and the worker take their untraced branch: no span, no context object, and the
envelope's `traceparent` is the request's header as it always was.

With a provider:
- `send {queue}` (PRODUCER) spans an enqueue of one job; its context is the job's creation context, carried
  in the envelope's `meta.traceparent` (W3C). An enqueue of several jobs makes a `create {queue}`
  (PRODUCER) span per job, the creation context of that job, and one `send {queue}` span (CLIENT, as the
  conventions ask once creation has its own spans; `send` when the jobs go to several queues) that links to
  every `create` span. These start under the current span (the web request's), or under the request's
  `traceparent` header when no span is current (an app without OpenTelemetry's web instrumentation).
- `process {queue}` (CONSUMER) spans each attempt a worker makes. It is parented on the creation context
  (not only linked to it): the conventions allow either for a message processed on its own, and a parent
  is what makes the request, its enqueue and its jobs one trace in every trace viewer. Retries are more
  `process` spans under the same creation span (`redisq.attempt`). It is the current span while the task
  runs (in its thread too, for a `def` task), so the task's own spans nest under it, and what the task
  enqueues is traced from there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from . import context
from .codec import Envelope, JobMeta
from .job import JobError
from .keys import make_job_id

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from .task import JobSpec
    from .worker.protocol import Delivery, Settlement

SYSTEM = "redisq"
# Outcomes of an attempt that are errors for the span (status ERROR, `error.type`, an exception event).
_FAILED = frozenset(("retry", "dead", "abort"))


def _import_api() -> ModuleType | None:
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace


# How long "no tracer provider" is believed before asking OpenTelemetry again: asking costs ~3 us (a missed
# os.environ lookup raises and catches a KeyError), more than the rest of the untraced branch by far.
RECHECK_S = 1.0


class Tracing:
    """A client's tracing switch (`rq.tracing`): off until a tracer provider exists, then on for good.

    A provider set after this client first looked is seen within RECHECK_S: set it at start, before the
    first enqueue, as OpenTelemetry's own instrumentations expect."""

    __slots__ = ("_api", "_look_after", "_provider", "_tracer")

    def __init__(self) -> None:
        self._api: ModuleType | bool | None = False  # False: not imported yet; None: not installed
        self._provider: TracerProvider | None = None
        self._tracer: Tracer | None = None
        self._look_after = 0.0

    def use(self, provider: TracerProvider | None) -> None:
        """Trace this client's enqueues and workers with `provider` instead of the global one (a test's
        in-memory exporter, or two apps in one process with different pipelines); None: the global one."""
        self._provider, self._tracer, self._look_after = provider, None, 0.0

    def tracer(self) -> Tracer | None:
        """The tracer, or None when there is nothing to trace to (the untraced branch)."""
        tracer = self._tracer
        if tracer is not None:
            return tracer
        api = self._api
        if api is None:
            return None
        now = time.monotonic()
        if now < self._look_after:
            return None
        self._look_after = now + RECHECK_S
        if api is False:
            api = self._api = _import_api()
            if api is None:
                return None
        assert isinstance(api, ModuleType)
        provider = self._provider or api.get_tracer_provider()
        # A proxy until the application sets a provider (it may, after this client was made: asked again).
        if isinstance(provider, (api.ProxyTracerProvider, api.NoOpTracerProvider)):
            return None
        from redisq import __version__

        self._tracer = provider.get_tracer("redisq", __version__)
        return self._tracer


def _with_context(meta: JobMeta, span: Span) -> JobMeta:
    """The meta with the span's context as `traceparent`, written by the W3C propagator (a span with no
    valid context writes none: the meta keeps the request's header)."""
    from opentelemetry.trace import set_span_in_context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, context=set_span_in_context(span))
    return {**meta, "traceparent": carrier["traceparent"]} if "traceparent" in carrier else meta


def _remote_context(traceparent: str | None) -> Context | None:
    if not traceparent:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


def _enqueue_parent() -> Context | None:
    """The current span's context; without one, the request's `traceparent` header (web adapters)."""
    from opentelemetry import trace

    if trace.get_current_span().get_span_context().is_valid:
        return None  # start_span's default: the current context
    return _remote_context(context.traceparent.get())


class Sending:
    """The spans of one enqueue call. The client runs the call inside `with Sending(...) as sent:`, gives
    the operation `sent.meta` (one job) or `sent.metas` (one per job: each its own creation context), and
    passes the operation's results through `sent(results)`, which names the job ids on the spans."""

    def __init__(self, tracer: Tracer, specs: Sequence[JobSpec], meta: JobMeta) -> None:
        from opentelemetry.trace import Link, SpanKind

        parent = _enqueue_parent()
        queues = {spec.queue for spec in specs}
        queue = next(iter(queues)) if len(queues) == 1 else None
        attributes: dict[str, Any] = {
            "messaging.system": SYSTEM,
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
        }
        if queue is not None:
            attributes["messaging.destination.name"] = queue
        self._creates: list[Span] = []
        self.meta: JobMeta = meta  # an enqueue of one job: its meta; of several, `metas`, one per job
        self.metas: list[JobMeta] = []
        if len(specs) == 1:
            attributes["redisq.task"] = specs[0].task
            self.span = tracer.start_span(
                f"send {queue}", context=parent, kind=SpanKind.PRODUCER, attributes=attributes
            )
            self.meta = _with_context(meta, self.span)
            self.metas = [self.meta]
        else:
            for spec in specs:
                self._creates.append(
                    tracer.start_span(
                        f"create {spec.queue}",
                        context=parent,
                        kind=SpanKind.PRODUCER,
                        attributes={
                            "messaging.system": SYSTEM,
                            "messaging.destination.name": spec.queue,
                            "messaging.operation.type": "create",
                            "messaging.operation.name": "create",
                            "redisq.task": spec.task,
                        },
                    )
                )
            attributes["messaging.batch.message_count"] = len(specs)
            self.span = tracer.start_span(
                "send" if queue is None else f"send {queue}",
                context=parent,
                kind=SpanKind.CLIENT,
                attributes=attributes,
                links=[Link(span.get_span_context()) for span in self._creates],
            )
            self.metas = [_with_context(meta, span) for span in self._creates]
        self._token: object = None

    def __call__(self, results: list[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
        """Take the enqueue's results, for the job ids (a job whose unique key another held: that one's)."""
        for span, (queue, uid, _) in zip(self._creates or [self.span], results, strict=True):
            span.set_attribute("messaging.message.id", make_job_id(queue, uid))
        return results

    def __enter__(self) -> Sending:
        from opentelemetry import context as otel_context
        from opentelemetry.trace import set_span_in_context

        self._token = otel_context.attach(set_span_in_context(self.span))
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        from opentelemetry import context as otel_context

        otel_context.detach(self._token)  # type: ignore[arg-type]
        if exc is not None:
            _failed(self.span, type(exc).__qualname__, str(exc))
            self.span.record_exception(exc)
        for span in self._creates:
            span.end()
        self.span.end()


def _failed(span: Span, kind: str, message: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("error.type", kind or "_OTHER")
    span.set_status(Status(StatusCode.ERROR, f"{kind}: {message}" if kind else message))


class Processing:
    """The `process {queue}` span of one attempt. The runner starts it once the envelope is decoded (its
    context names the parent) and settles it with the attempt's outcome; a delivery refused before that
    (a bad signature, a payload that does not decode) gets a span of its own, parented on nothing."""

    __slots__ = ("_delivery", "_span", "_token", "_tracer")

    def __init__(self, tracer: Tracer, delivery: Delivery) -> None:
        self._tracer, self._delivery = tracer, delivery
        self._span: Span | None = None
        self._token: object = None

    def start(self, envelope: Envelope | None) -> None:
        from opentelemetry import context as otel_context
        from opentelemetry.trace import SpanKind, set_span_in_context

        d = self._delivery
        parent = None if envelope is None else _remote_context(envelope["meta"].get("traceparent"))
        attributes: dict[str, Any] = {
            "messaging.system": SYSTEM,
            "messaging.destination.name": d.queue,
            "messaging.message.id": make_job_id(d.queue, d.uid),
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "redisq.attempt": d.attempt,
            "redisq.max_attempts": d.max_attempts,
        }
        if envelope is not None:
            attributes["redisq.task"] = envelope["task"]
        self._span = span = self._tracer.start_span(
            f"process {d.queue}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
        )
        self._token = otel_context.attach(set_span_in_context(span))

    def settled(self, settlement: Settlement) -> None:
        if self._span is None:
            self.start(None)
        span = self._span
        assert span is not None
        outcome = settlement.outcome
        span.set_attribute("redisq.outcome", outcome)
        if outcome in _FAILED:
            error = JobError.from_json(settlement.data)
            _failed(span, error.type, error.message)
            event = {"exception.type": error.type, "exception.message": error.message}
            if error.traceback:
                event["exception.stacktrace"] = error.traceback
            if error.note:
                event["redisq.note"] = error.note
            span.add_event("exception", event)
        self._end()

    def interrupted(self, exc: BaseException) -> None:
        """The worker stopped while the job ran (a shutdown): the job goes back without spending the
        attempt; the span ends as `release`, and no error."""
        if self._span is not None:
            self._span.set_attribute("redisq.outcome", "release")
            self._end()

    def _end(self) -> None:
        from opentelemetry import context as otel_context

        assert self._span is not None
        if self._token is not None:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            self._token = None
        self._span.end()


def current_trace_id() -> str | None:
    """The trace id of the current OpenTelemetry span, if OpenTelemetry is loaded and a span is current (the
    log lines of a traced web request before it enqueues anything)."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:  # never imported: no span can be current, and logging must not import it
        return None
    span_context = trace.get_current_span().get_span_context()
    return f"{span_context.trace_id:032x}" if span_context.is_valid else None
