"""A FastAPI app instrumented with OpenTelemetry as users do it, for tests/test_tracing_e2e.py: served by a
real uvicorn, its jobs run by a `redisq worker` process, each process writing its finished spans to its own
file (TRACE_FILE) as JSON lines, so that the test can put the trace together across processes."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from redisq import RedisQ
from redisq.fastapi import RedisQMiddleware


class JsonLinesExporter(SpanExporter):
    """Appends each finished span to a file, one JSON object a line: what the test needs of it."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            assert span.context is not None
            lines.append(
                json.dumps(
                    {
                        "name": span.name,
                        "kind": span.kind.name,
                        "trace_id": f"{span.context.trace_id:032x}",
                        "span_id": f"{span.context.span_id:016x}",
                        "parent_id": None if span.parent is None else f"{span.parent.span_id:016x}",
                        "links": [f"{link.context.span_id:016x}" for link in span.links],
                        "attributes": dict(span.attributes or {}),
                        "status": span.status.status_code.name,
                        "service": (span.resource.attributes or {}).get("service.name"),
                    }
                )
            )
        with self._lock, open(self._path, "a") as out:
            out.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS


provider = TracerProvider(resource=Resource.create({"service.name": os.environ["SERVICE_NAME"]}))
provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(os.environ["TRACE_FILE"])))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("tests.tracedapp")

rq = RedisQ()  # REDISQ_URL and REDISQ_PREFIX come from the test


@rq.task(name="tracedapp.welcome")
async def welcome(user_id: int) -> str:
    with tracer.start_as_current_span("render welcome email"):
        return f"welcome {user_id}"


app = FastAPI()
app.add_middleware(RedisQMiddleware, redisq=rq)


@app.post("/signup/{user_id}", status_code=202)
async def signup(user_id: int) -> dict[str, str]:
    return {"job": (await welcome.enqueue(user_id)).id}


FastAPIInstrumentor.instrument_app(app)
