import logging
import time
from collections.abc import Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from json_logs import AccessLogMiddleware, JsonFormatter
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import TracerProvider


# --8<-- [start:trace_id]
class TraceJsonFormatter(JsonFormatter):
    """The JSON line, plus the ids of the span that was current when it was logged."""

    def format(self, record: logging.LogRecord) -> str:
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # 32 and 16 lowercase hex digits, as W3C traceparent writes them
            record.trace_id = f"{span.trace_id:032x}"
            record.span_id = f"{span.span_id:016x}"
        return super().format(record)


# --8<-- [end:trace_id]
# --8<-- [start:app]
ITEMS = {1: "hammer", 2: "saw"}


def create_app(
    tracer_provider: TracerProvider | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> FastAPI:
    app = FastAPI(telemetry={"tracer_provider": tracer_provider})
    app.add_middleware(AccessLogMiddleware, clock=clock)
    tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(__name__)

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, str | int]:
        with tracer.start_as_current_span("load_item") as span:
            span.set_attribute("item.id", item_id)
            name = ITEMS.get(item_id)
        if name is None:
            raise HTTPException(404, "no such item")
        return {"item_id": item_id, "name": name}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("the database said no")

    return app


# --8<-- [end:app]


# --8<-- [start:record]
async def record_unhandled(request: Request, exc: Exception) -> JSONResponse:
    """An exception handler that puts the traceback on the server span as an event."""
    trace.get_current_span().record_exception(exc)
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


# app.add_exception_handler(Exception, record_unhandled)
# --8<-- [end:record]
# --8<-- [start:in_memory]
def in_memory_provider() -> tuple[SdkTracerProvider, InMemorySpanExporter]:
    """For tests: every span, as soon as it ends, kept in a list you can read."""
    exporter = InMemorySpanExporter()
    provider = SdkTracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # synchronous: no waiting
    return provider, exporter


# --8<-- [end:in_memory]
# --8<-- [start:otlp]
def production_provider(service: str) -> SdkTracerProvider:
    """For production: spans batched and sent over OTLP/HTTP to a collector.

    The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318).
    Shut the provider down at the end of the lifespan, so the last batch is sent.
    """
    provider = SdkTracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


# --8<-- [end:otlp]
