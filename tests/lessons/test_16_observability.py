"""Every snippet of lessons/16-observability.md runs and does what the page says.

Logs are captured by a handler on a ``StringIO`` and parsed line by line; durations come
from a clock the test moves; spans, OpenTelemetry metrics and OpenTelemetry logs go to the
SDK's in-memory exporters, passed to ``FastAPI(telemetry=...)``, so the process's global
providers are never set. The readiness checks run against the ``database_url`` and
``redis_url`` fixtures (SQLite and fakeredis, or real servers when their URLs are set).
"""

import http.server
import io
import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import prometheus_client
import pytest
from fakeredis import FakeAsyncRedis
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry, Counter
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine

from workbook.loader import load_copy
from workbook.services import UNREACHABLE_REDIS_URL
from workbook.testing import HANG_GUARD, client_for, running

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "16-observability.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "16_observability"
TESTED = {"json_logs.py", "metrics.py", "tracing.py", "health.py", "redaction.py"}
NEIGHBOURS = ("json_logs",)


def fresh(filename: str) -> ModuleType:
    """A new copy of a snippet, and of the neighbours it imports by name."""
    for name in NEIGHBOURS:
        sys.modules.pop(name, None)
    return load_copy(SNIPPETS / filename)


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "16_observability/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


@dataclass
class Clock:
    """A clock that moves only when the test says so."""

    now: float = 100.0

    def __call__(self) -> float:
        return self.now


class Lines:
    """What a handler on the ``app`` logger wrote, one JSON object per line."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict[str, Any]]:
        text = self.stream.getvalue()
        return [json.loads(line) for line in text.splitlines()]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.all() if line["logger"] == "app.access"]


@pytest.fixture
def capture() -> Iterator[Any]:
    """Attach a handler with the given formatter to the ``app`` logger for one test."""
    logger = logging.getLogger("app")
    added: list[logging.Handler] = []
    level = logger.level

    def attach(formatter: logging.Formatter, *filters: logging.Filter) -> Lines:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        for item in filters:
            handler.addFilter(item)
        logger.addHandler(handler)
        added.append(handler)
        return Lines(stream)

    logger.setLevel(logging.INFO)
    yield attach
    for handler in added:
        logger.removeHandler(handler)
    logger.setLevel(level)


# -- json_logs.py -------------------------------------------------------------------------


async def test_one_access_line_per_request_whatever_the_outcome(capture: Any) -> None:
    logs = fresh("json_logs.py")
    lines = capture(logs.JsonFormatter())
    expected = {
        "/items/7": ("/items/{item_id}", 200),
        "/items/seven": ("/items/{item_id}", 422),
        "/nowhere": ("<unmatched>", 404),
        "/boom": ("/boom", 500),
        "/stream": ("/stream", 200),
    }
    async with client_for(logs.create_app(), raise_app_exceptions=False) as client:
        for path, (route, status) in expected.items():
            before = len(lines.access())
            response = await client.get(path)
            assert response.status_code == status
            new = lines.access()[before:]
            assert len(new) == 1, f"{path}: {new}"
            assert (new[0]["method"], new[0]["route"], new[0]["status"]) == ("GET", route, status)
            if status == 500:  # sent by ServerErrorMiddleware, outside ours: no header
                assert "x-request-id" not in response.headers
                assert re.fullmatch(r"[0-9a-f]{32}", new[0]["request_id"])
            else:
                assert new[0]["request_id"] == response.headers["x-request-id"]
    boom = next(line for line in lines.access() if line["route"] == "/boom")
    assert "RuntimeError: the database said no" in boom["exc_info"]
    assert "Traceback (most recent call last)" in boom["exc_info"]
    assert all("exc_info" not in line for line in lines.access() if line["route"] != "/boom")


async def test_the_line_has_the_documented_keys_and_one_line_even_for_a_newline(
    capture: Any,
) -> None:
    logs = fresh("json_logs.py")
    lines = capture(logs.JsonFormatter())
    async with client_for(logs.create_app(Clock())) as client:
        await client.get("/items/7")
    access = lines.access()[0]
    assert set(access) == {
        "time", "level", "logger", "message", "request_id",
        "method", "route", "status", "duration_ms",
    }  # fmt: skip
    assert (access["level"], access["message"]) == ("INFO", "request")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", access["time"])
    # the handler's own line: same request id, its extra field
    item = next(line for line in lines.all() if line["logger"] == "app.items")
    assert (item["item_id"], item["request_id"]) == (7, access["request_id"])
    logging.getLogger("app.test").warning("two\nlines")
    assert lines.all()[-1]["message"] == "two\nlines"
    assert lines.all()[-1]["request_id"] is None  # outside a request


async def test_duration_comes_from_the_clock_and_covers_the_last_byte(capture: Any) -> None:
    logs = fresh("json_logs.py")
    lines = capture(logs.JsonFormatter())
    clock = Clock()
    app = FastAPI()
    app.add_middleware(logs.AccessLogMiddleware, clock=clock)

    @app.get("/slow")
    async def slow() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(3):
                clock.now += 0.25  # each chunk "takes" 250 ms
                yield b"x"

        return StreamingResponse(chunks())

    async with client_for(app) as client:
        assert (await client.get("/slow")).content == b"xxx"
    assert lines.access()[0]["duration_ms"] == 750.0


async def test_request_id_is_taken_when_acceptable_and_made_otherwise(capture: Any) -> None:
    logs = fresh("json_logs.py")
    lines = capture(logs.JsonFormatter())
    async with client_for(logs.create_app()) as client:
        kept = await client.get("/items/1", headers={"x-request-id": "abc-123"})
        bad = await client.get("/items/1", headers={"x-request-id": "no spaces\tplease"})
        none = await client.get("/items/1")
    assert kept.headers["x-request-id"] == "abc-123"
    assert re.fullmatch(r"[0-9a-f]{32}", bad.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", none.headers["x-request-id"])
    assert [line["request_id"] for line in lines.access()] == [
        "abc-123",
        bad.headers["x-request-id"],
        none.headers["x-request-id"],
    ]


def test_the_dict_config_writes_json_to_stdout_and_hides_other_info() -> None:
    program = (
        "import logging, logging.config, json_logs\n"
        "logging.config.dictConfig(json_logs.LOGGING)\n"
        "logging.getLogger('app.orders').info('order placed', extra={'order_id': 5})\n"
        "logging.getLogger('some.library').info('chatter')\n"
        "logging.getLogger('some.library').warning('careful')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=SNIPPETS,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("app.orders", "order placed"),
        ("some.library", "careful"),
    ]
    assert lines[0]["order_id"] == 5
    assert done.stderr == ""


# -- metrics.py ---------------------------------------------------------------------------


def sample(app_state: dict[str, Any], name: str, **labels: str) -> float | None:
    return app_state["metrics"].registry.get_sample_value(name, labels)


async def test_each_request_counts_exactly_once_by_route_template() -> None:
    metrics = fresh("metrics.py")
    async with running(metrics.create_app(), raise_app_exceptions=False) as (client, state):
        labels = {"method": "GET", "route": "/items/{item_id}", "status": "200"}
        assert sample(state, "http_requests_total", **labels) is None
        await client.get("/items/1")
        assert sample(state, "http_requests_total", **labels) == 1.0
        await client.get("/items/2")
        assert sample(state, "http_requests_total", **labels) == 2.0
        await client.get("/nowhere")
        await client.get("/boom")
        await client.get("/items/x")
        counted = {
            (s.labels["route"], s.labels["status"]): s.value
            for metric in state["metrics"].registry.collect()
            if metric.name == "http_requests"
            for s in metric.samples
            if s.name == "http_requests_total"
        }
    assert counted == {
        ("/items/{item_id}", "200"): 2.0,
        ("/items/{item_id}", "422"): 1.0,
        ("<unmatched>", "404"): 1.0,
        ("/boom", "500"): 1.0,
    }


async def test_many_ids_make_one_series() -> None:
    metrics = fresh("metrics.py")
    async with running(metrics.create_app()) as (client, state):
        for item_id in range(300):
            await client.get(f"/items/{item_id}")
        series = [
            s
            for metric in state["metrics"].registry.collect()
            if metric.name == "http_requests"
            for s in metric.samples
            if s.name == "http_requests_total"
        ]
    assert len(series) == 1
    assert series[0].value == 300.0


async def test_histogram_observes_the_clock_into_the_stated_buckets() -> None:
    metrics = fresh("metrics.py")
    clock = Clock()
    app = metrics.create_app(clock)

    @app.get("/work")
    async def work() -> None:
        clock.now += 0.3

    async with running(app) as (client, state):
        await client.get("/work")
        labels = {"method": "GET", "route": "/work"}
        bucket = lambda le: sample(state, "http_request_duration_seconds_bucket", **labels, le=le)  # noqa: E731
        assert bucket("0.25") == 0.0
        assert bucket("0.5") == 1.0
        assert bucket("+Inf") == 1.0
        assert sample(state, "http_request_duration_seconds_sum", **labels) == pytest.approx(0.3)


async def test_metrics_endpoint_speaks_prometheus_text_and_is_not_counted() -> None:
    metrics = fresh("metrics.py")
    async with running(metrics.create_app()) as (client, state):
        await client.get("/items/1")
        first = await client.get("/metrics")
        second = await client.get("/metrics")
    assert first.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE http_requests_total counter" in first.text
    assert 'http_requests_total{method="GET",route="/items/{item_id}",status="200"} 1.0' in (
        first.text
    )
    assert 'route="/metrics"' not in second.text
    assert (
        sample(state, "http_requests_total", method="GET", route="/metrics", status="200") is None
    )


async def test_two_apps_never_share_counts_nor_touch_the_global_registry() -> None:
    metrics = fresh("metrics.py")
    labels = {"method": "GET", "route": "/items/{item_id}", "status": "200"}
    async with (
        running(metrics.create_app()) as (one, one_state),
        running(metrics.create_app()) as (two, two_state),
    ):
        await one.get("/items/1")
        await one.get("/items/1")
        await two.get("/items/1")
    assert sample(one_state, "http_requests_total", **labels) == 2.0
    assert sample(two_state, "http_requests_total", **labels) == 1.0
    assert prometheus_client.REGISTRY.get_sample_value("http_requests_total", labels) is None


def test_one_registry_refuses_the_same_metric_twice() -> None:
    registry = CollectorRegistry()
    Counter("http_requests", "first", registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Counter("http_requests", "second", registry=registry)


# -- tracing.py ---------------------------------------------------------------------------


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    provider: TracerProvider

    def finished(self) -> tuple[ReadableSpan, ...]:
        return self.spans.get_finished_spans()

    def server(self) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.kind is SpanKind.SERVER]


@pytest.fixture
def telemetry() -> Telemetry:
    provider, exporter = fresh("tracing.py").in_memory_provider()
    return Telemetry(exporter, provider)


class _Collector(http.server.BaseHTTPRequestHandler):
    """A stand-in OTLP/HTTP collector: keeps each request's path, content type and body."""

    server: Any

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Any]:
    server: Any = http.server.HTTPServer(("127.0.0.1", 0), _Collector)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_production_provider_batches_to_otlp(
    monkeypatch: pytest.MonkeyPatch, collector: Any
) -> None:
    host, port = collector.server_address
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{host}:{port}")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")  # only the flush below sends
    provider = fresh("tracing.py").production_provider("shop")
    try:
        tracer = provider.get_tracer("checkout")
        for name in ("reserve", "charge", "ship"):
            with tracer.start_as_current_span(name):
                pass
        assert collector.received == []  # batched: nothing sent per span
        assert provider.force_flush()
    finally:
        provider.shutdown()
    ((path, content_type, body),) = collector.received  # the three spans, in one request
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    (sent,) = ExportTraceServiceRequest.FromString(body).resource_spans
    resource = {item.key: item.value.string_value for item in sent.resource.attributes}
    assert resource["service.name"] == "shop"
    assert [span.name for scope in sent.scope_spans for span in scope.spans] == [
        "reserve",
        "charge",
        "ship",
    ]


async def test_server_span_is_named_by_route_template(telemetry: Telemetry) -> None:
    tracing = fresh("tracing.py")
    async with client_for(tracing.create_app(telemetry.provider)) as client:
        await client.get("/items/1")
        await client.get("/nowhere")
    item, unmatched = telemetry.server()
    assert item.name == "GET /items/{item_id}"
    assert item.attributes is not None
    assert item.attributes["http.route"] == "/items/{item_id}"
    assert item.attributes["url.path"] == "/items/1"
    assert item.attributes["http.request.method"] == "GET"
    assert item.attributes["http.response.status_code"] == 200
    assert item.status.status_code is StatusCode.UNSET
    assert unmatched.name == "GET"
    assert unmatched.attributes is not None
    assert "http.route" not in unmatched.attributes
    assert unmatched.attributes["http.response.status_code"] == 404


async def test_a_500_is_an_error_span_without_an_exception_event(telemetry: Telemetry) -> None:
    tracing = fresh("tracing.py")
    app = tracing.create_app(telemetry.provider)
    async with client_for(app, raise_app_exceptions=False) as client:
        assert (await client.get("/boom")).status_code == 500
        assert (await client.get("/items/99")).status_code == 404
        assert (await client.get("/items/x")).status_code == 422
    boom, missing, invalid = telemetry.server()
    assert boom.status.status_code is StatusCode.ERROR
    assert boom.attributes is not None
    assert boom.attributes["error.type"] == "RuntimeError"
    assert boom.attributes["http.response.status_code"] == 500
    assert boom.events == ()  # the traceback goes to the logs signal, not the span
    for span in (missing, invalid):  # 4xx is the client's error, not the server's
        assert span.status.status_code is StatusCode.UNSET
        assert span.attributes is not None
        assert "error.type" not in span.attributes


async def test_an_exception_handler_can_put_the_traceback_on_the_server_span(
    telemetry: Telemetry,
) -> None:
    tracing = fresh("tracing.py")
    app = tracing.create_app(telemetry.provider)
    app.add_exception_handler(Exception, tracing.record_unhandled)
    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.get("/boom")
    assert (response.status_code, response.json()) == (500, {"detail": "Internal Server Error"})
    (server,) = telemetry.server()
    assert server.status.status_code is StatusCode.ERROR
    (event,) = server.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "RuntimeError"
    assert "the database said no" in str(event.attributes["exception.stacktrace"])


def test_your_own_span_records_what_escapes_it(telemetry: Telemetry) -> None:
    tracer = telemetry.provider.get_tracer("test")
    with pytest.raises(KeyError), tracer.start_as_current_span("load_item"):
        raise KeyError(13)
    (span,) = telemetry.finished()
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]


async def test_operation_spans_and_the_child_span_share_the_trace(telemetry: Telemetry) -> None:
    tracing = fresh("tracing.py")
    async with client_for(tracing.create_app(telemetry.provider)) as client:
        await client.get("/items/1")
    spans = {span.name: span for span in telemetry.finished()}
    assert set(spans) == {
        "GET /items/{item_id}",
        "fastapi.dependencies",
        "fastapi.endpoint",
        "fastapi.serialization",
        "load_item",
    }
    server = spans["GET /items/{item_id}"]
    trace_ids = {span.context.trace_id for span in spans.values()}
    assert trace_ids == {server.context.trace_id}
    for name in ("fastapi.dependencies", "fastapi.endpoint", "fastapi.serialization"):
        parent = spans[name].parent
        assert parent is not None
        assert parent.span_id == server.context.span_id
    load_parent = spans["load_item"].parent
    assert load_parent is not None
    assert load_parent.span_id == spans["fastapi.endpoint"].context.span_id
    assert spans["load_item"].attributes == {"item.id": 1}


async def test_operation_spans_can_be_turned_off(telemetry: Telemetry) -> None:
    app = FastAPI(telemetry={"tracer_provider": telemetry.provider, "operation_spans": False})

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    async with client_for(app) as client:
        await client.get("/ping")
    assert [span.name for span in telemetry.finished()] == ["GET /ping"]


async def test_an_incoming_traceparent_is_continued(telemetry: Telemetry) -> None:
    tracing = fresh("tracing.py")
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with client_for(tracing.create_app(telemetry.provider)) as client:
        await client.get("/items/1", headers={"traceparent": parent})
    (server,) = telemetry.server()
    assert format(server.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert server.parent is not None
    assert server.parent.is_remote
    assert format(server.parent.span_id, "016x") == "b7ad6b7169203331"


async def test_the_log_line_carries_the_trace_and_server_span_ids(
    telemetry: Telemetry, capture: Any
) -> None:
    tracing = fresh("tracing.py")
    lines = capture(tracing.TraceJsonFormatter())
    async with client_for(tracing.create_app(telemetry.provider)) as client:
        await client.get("/items/1")
    (server,) = telemetry.server()
    (access,) = lines.access()
    assert re.fullmatch(r"[0-9a-f]{32}", access["trace_id"])
    assert access["trace_id"] == format(server.context.trace_id, "032x")
    assert access["span_id"] == format(server.context.span_id, "016x")


async def test_without_a_provider_nothing_is_traced(capture: Any) -> None:
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider", (
        "this check needs the global tracer provider left unset"
    )
    tracing = fresh("tracing.py")
    lines = capture(tracing.TraceJsonFormatter())
    async with client_for(tracing.create_app()) as client:
        assert (await client.get("/items/1")).status_code == 200
    (access,) = lines.access()
    assert "trace_id" not in access


async def test_built_in_metrics_and_logs_use_the_route_template() -> None:
    reader = InMemoryMetricReader()
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    app = FastAPI(
        telemetry={
            "meter_provider": MeterProvider(metric_readers=[reader]),
            "logger_provider": logger_provider,
        }
    )

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> int:
        return item_id

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("no")

    async with client_for(app, raise_app_exceptions=False) as client:
        for path in ("/items/1", "/items/2", "/items/x", "/boom"):
            await client.get(path)
    data = reader.get_metrics_data()
    assert data is not None
    found = {
        metric.name: metric
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert set(found) == {"http.server.request.duration", "http.server.active_requests"}
    duration = found["http.server.request.duration"]
    assert duration.unit == "s"
    counts = {
        (point.attributes["http.route"], point.attributes["http.response.status_code"]): (
            point.count
        )
        for point in duration.data.data_points  # type: ignore[union-attr]
    }
    assert counts == {
        ("/items/{item_id}", 200): 2,
        ("/items/{item_id}", 422): 1,
        ("/boom", 500): 1,
    }
    records = [item.log_record for item in logs.get_finished_logs()]
    assert [(r.event_name, r.severity_text) for r in records] == [
        ("fastapi.validation.failed", "WARN"),
        ("http.server.request.exception", "ERROR"),
    ]
    assert records[1].attributes is not None
    assert records[1].attributes["exception.type"] == "RuntimeError"
    assert "Traceback" in str(records[1].attributes["exception.stacktrace"])


# -- health.py ----------------------------------------------------------------------------


async def test_ready_when_database_and_redis_answer(
    database_url: str, redis_url: str | None
) -> None:
    health = fresh("health.py")
    engine = create_async_engine(database_url)
    redis = FakeAsyncRedis() if redis_url is None else Redis.from_url(redis_url)
    checks = {"database": health.database_check(engine), "redis": health.redis_check(redis)}
    try:
        async with client_for(health.create_app(checks)) as client:
            ready = await client.get("/readyz")
    finally:
        await redis.aclose()
        await engine.dispose()
    assert (ready.status_code, ready.json()) == (200, {"database": "ok", "redis": "ok"})


async def test_a_dependency_down_makes_readyz_503_and_healthz_stays_200(
    database_url: str,
) -> None:
    health = fresh("health.py")
    engine = create_async_engine(database_url)
    gone = Redis.from_url(UNREACHABLE_REDIS_URL, socket_connect_timeout=HANG_GUARD)
    checks = {"database": health.database_check(engine), "redis": health.redis_check(gone)}
    try:
        async with client_for(health.create_app(checks)) as client:
            ready = await client.get("/readyz")
            alive = await client.get("/healthz")
    finally:
        await gone.aclose()
        await engine.dispose()
    assert (ready.status_code, ready.json()) == (503, {"database": "ok", "redis": "down"})
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})


async def test_a_database_nobody_answers_for_is_down() -> None:
    health = fresh("health.py")
    engine = create_async_engine("postgresql+asyncpg://app:secret@127.0.0.1:1/app")  # no server
    try:
        result = await health.run_checks({"database": health.database_check(engine)}, 1.0)
    finally:
        await engine.dispose()
    assert result == {"database": "down"}


async def test_checks_run_at_once_and_a_hanging_one_times_out() -> None:
    health = fresh("health.py")
    first_started, second_started = anyio.Event(), anyio.Event()

    async def first() -> None:
        first_started.set()
        await second_started.wait()  # only finishes if both run concurrently

    async def second() -> None:
        second_started.set()
        await first_started.wait()

    async def hangs() -> None:
        await anyio.Event().wait()

    with anyio.fail_after(HANG_GUARD):
        result = await health.run_checks({"a": first, "b": second, "c": hangs}, per_check=0.01)
    assert result == {"a": "ok", "b": "ok", "c": "timeout"}


async def test_draining_makes_readyz_503_while_healthz_stays_200() -> None:
    health = fresh("health.py")
    calls: list[str] = []

    async def fine() -> None:
        calls.append("checked")

    app = health.create_app({"database": fine})
    async with running(app) as (client, state):
        assert (await client.get("/readyz")).status_code == 200
        probe = state["probe"]
        probe.draining = True
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert (ready.status_code, ready.json()) == (503, {"status": "draining"})
    assert alive.status_code == 200
    assert calls == ["checked"]  # draining answers without checking anything
    assert probe.draining is True


async def test_the_lifespan_sets_draining_at_shutdown() -> None:
    health = fresh("health.py")
    app = health.create_app({})
    async with running(app) as (_, state):
        probe = state["probe"]
        assert probe.draining is False
    assert probe.draining is True


# -- redaction.py -------------------------------------------------------------------------


def redacted_line(redaction: ModuleType, *args: Any, **extra: Any) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(redaction_formatter())
    handler.addFilter(redaction.RedactingFilter())
    logger = logging.getLogger("app.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(*args, extra=extra)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue()


def redaction_formatter() -> logging.Formatter:
    return fresh("json_logs.py").JsonFormatter()


def test_redact_table() -> None:
    redaction = fresh("redaction.py")
    redact = redaction.redact
    assert redact({"Authorization": "Bearer abc", "accept": "json"}) == {
        "Authorization": "[REDACTED]",
        "accept": "json",
    }
    assert redact({"user": {"name": "ann", "Password": "pw"}, "items": [{"token": "t"}]}) == {
        "user": {"name": "ann", "Password": "[REDACTED]"},
        "items": [{"token": "[REDACTED]"}],
    }
    assert redact({"cookie": "a=b", "set-cookie": "c=d", "secret": 1}) == {
        "cookie": "[REDACTED]",
        "set-cookie": "[REDACTED]",
        "secret": "[REDACTED]",
    }
    assert redact("GET /x?page=2&token=abc&API_KEY=k#top") == (
        "GET /x?page=2&token=[REDACTED]&API_KEY=[REDACTED]#top"
    )
    assert redact("sent Authorization: Bearer eyJ.a.b") == "sent Authorization: Bearer [REDACTED]"
    assert redact("GET /x?tokens=fine&page=1") == "GET /x?tokens=fine&page=1"
    assert redact(42) == 42


def test_the_filter_scrubs_message_extras_and_keeps_the_rest() -> None:
    redaction = fresh("redaction.py")
    line = json.loads(
        redacted_line(
            redaction,
            "called %s",
            "https://api.example/v1?api_key=k1&q=shoes",
            headers={"Authorization": "Bearer t1", "Accept": "text/html"},
            token="t2",
            password=SecretStr("p1"),
            user=SecretStr("kept-masked"),
        )
    )
    assert line["message"] == "called https://api.example/v1?api_key=[REDACTED]&q=shoes"
    assert line["headers"] == {"Authorization": "[REDACTED]", "Accept": "text/html"}
    assert (line["token"], line["password"]) == ("[REDACTED]", "[REDACTED]")
    assert line["user"] == "**********"  # SecretStr prints masked through default=str


def test_a_secret_in_an_argument_is_redacted_before_formatting() -> None:
    redaction = fresh("redaction.py")
    line = json.loads(redacted_line(redaction, "login %s", {"user": "ann", "password": "pw1"}))
    assert line["message"] == "login {'user': 'ann', 'password': '[REDACTED]'}"
    line = json.loads(redacted_line(redaction, "pair %s %s", ("a", {"token": "t1"}), [1]))
    assert line["message"] == "pair ('a', {'token': '[REDACTED]'}) [1]"
    line = json.loads(redacted_line(redaction, {"password": "pw2", "visible": "ok"}))
    assert line["message"] == "{'password': '[REDACTED]', 'visible': 'ok'}"


def test_joining_first_would_leak_the_argument() -> None:
    redaction = fresh("redaction.py")
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "login %s", None, None)
    record.args = ({"password": "pw3"},)
    assert "pw3" in redaction.redact(record.getMessage())  # text has no keys left to see


def test_a_filter_on_a_logger_misses_its_childrens_records() -> None:
    redaction = fresh("redaction.py")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    parent = logging.getLogger("app.parent")
    parent.addFilter(redaction.RedactingFilter())  # the wrong place
    parent.addHandler(handler)
    try:
        logging.getLogger("app.parent.child").warning("GET /?token=leaked")
    finally:
        parent.removeHandler(handler)
        parent.filters.clear()
    assert "leaked" in stream.getvalue()


SECRET = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=20).map(
    lambda text: "zq" + text
)
KEY = st.sampled_from(["password", "token", "secret", "Authorization", "Cookie", "Set-Cookie"])
WHERE = st.sampled_from(["extra", "nested", "list", "query", "bearer"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=SECRET, key=KEY, where=WHERE, depth=st.integers(0, 4))
def test_no_planted_secret_ever_reaches_the_output(
    secret: str, key: str, where: str, depth: int
) -> None:
    redaction = fresh("redaction.py")
    value: Any = {key: secret}
    for level in range(depth):
        value = {f"level{level}": value, "visible": "ok"}
    if where == "extra":
        out = redacted_line(redaction, "event", **{key.lower().replace("-", "_"): secret})
    elif where == "nested":
        out = redacted_line(redaction, "event", payload=value)
    elif where == "list":
        out = redacted_line(redaction, "event", payload=[1, value, "x"])
    elif where == "query":
        name = "token" if depth % 2 else "api_key"
        out = redacted_line(redaction, "GET /search?q=1&%s=%s&page=2", name, secret)
    else:
        out = redacted_line(redaction, "header was Bearer %s ok", secret)
    assert secret not in out
    assert "[REDACTED]" in out


# -- FastAPI's telemetry settings ---------------------------------------------------------


def test_the_telemetry_settings_are_the_ones_the_page_lists() -> None:
    from fastapi.telemetry import TelemetryConfig

    assert set(TelemetryConfig.__annotations__) == {
        "tracer_provider",
        "meter_provider",
        "logger_provider",
        "tracing",
        "metrics",
        "logs",
        "operation_spans",
        "auto_configure",
        "exclude",
    }


async def test_exclude_skips_telemetry_for_chosen_requests(telemetry: Telemetry) -> None:
    app = FastAPI(
        telemetry={
            "tracer_provider": telemetry.provider,
            "exclude": lambda scope: scope["path"] in {"/healthz", "/readyz"},
        }
    )

    @app.get("/healthz")
    async def healthz() -> str:
        return "ok"

    @app.get("/orders")
    async def orders() -> list[int]:
        return []

    async with client_for(app) as client:
        await client.get("/healthz")
        await client.get("/orders")
    assert [span.name for span in telemetry.server()] == ["GET /orders"]
