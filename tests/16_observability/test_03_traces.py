"""Hidden suite for 16_observability/03_traces: traces named by route, ids in the log records.

Each check makes its own OpenTelemetry SDK `TracerProvider` with an `InMemorySpanExporter`
behind a `SimpleSpanProcessor` (a span is exported the moment it ends), hands it to
`create_app(tracer_provider=...)` and reads the finished spans.  The global tracer provider
is never set.  Records on the logger `shop.items` are read with pytest's `caplog`.
"""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from workbook.testing import expect, expect_equal, expect_json, expect_status, running

pytestmark = pytest.mark.filterwarnings("error")

LOGGER = "shop.items"
ROUTE = "/items/{item_id}"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
ANSWERS = {
    1: (200, {"id": 1, "name": "Desk lamp"}),
    2: (200, {"id": 2, "name": "Office chair"}),
    7: (404, {"detail": "Item not found"}),
}

WIRED = (
    "Does create_app pass its tracer_provider to FastAPI(telemetry={'tracer_provider': ...})? "
    "Without it FastAPI uses the global provider, and the checks' exporter sees nothing."
)
NAMED = (
    "FastAPI names the server span after the route template once the route is matched: is "
    "the route declared as /items/{item_id}, and is telemetry left on (tracing=True)?"
)
CHILD = (
    'Does load_item open a span named "load_item" with the attribute item.id, from a '
    "tracer of the app's provider (tracer_provider.get_tracer(...)), while the request's "
    "span is current? trace.get_tracer() uses the global provider, which the checks never set."
)
NOT_FOUND = (
    "A missing item is an answer, not a failure: does load_item return None, and the "
    "endpoint raise the 404 outside the load_item span? An exception that leaves "
    "start_as_current_span marks the span ERROR."
)
SERVER_ERROR = (
    "On a 500, does an exception handler for Exception record the exception on the current "
    "span (trace.get_current_span().record_exception(exc)) and answer "
    '500 {"detail": "Internal Server Error"}?'
)
LOG_IDS = (
    "Does a logging.Filter on shop.items set record.trace_id (format(trace_id, '032x')) and "
    "record.span_id (format(span_id, '016x')) from trace.get_current_span(), and None for "
    "both when the current span context is not valid?"
)
PROPAGATED = (
    "An incoming traceparent header is the caller's trace: FastAPI continues it by itself. "
    "Does the app replace or drop the context it was given?"
)
PROBE = (
    "Probes come every few seconds and say nothing a trace needs: does the telemetry config "
    "exclude /healthz (telemetry={'exclude': a function of the ASGI scope})?"
)


class Traces:
    """A provider of this check's own, and the spans it has finished so far."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    @property
    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def server(self) -> list[ReadableSpan]:
        return [span for span in self.spans if span.kind == SpanKind.SERVER]

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans if span.name == name]

    def clear(self) -> None:
        self.exporter.clear()


@pytest.fixture
def traces() -> Traces:
    return Traces()


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return lambda: [record for record in caplog.records if record.name == LOGGER]


@asynccontextmanager
async def shop(exercise: ModuleType, traces: Traces) -> AsyncIterator[httpx.AsyncClient]:
    app = exercise.create_app(tracer_provider=traces.provider)
    async with running(app, raise_app_exceptions=False) as (client, _):
        yield client


def hex_id(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def one(spans: list[ReadableSpan], what: str, help: str) -> ReadableSpan:
    names = [span.name for span in spans]
    expect(len(spans) == 1, f"expected one {what}, found {len(spans)}: {names}", help=help)
    return spans[0]


def ancestors(span: ReadableSpan, spans: list[ReadableSpan]) -> list[int]:
    """The span ids above `span`, nearest first, as far as the finished spans reach."""
    by_id = {other.context.span_id: other for other in spans}
    chain: list[int] = []
    parent = span.parent
    while parent is not None and parent.span_id not in chain:
        chain.append(parent.span_id)
        above = by_id.get(parent.span_id)
        parent = above.parent if above is not None else None
    return chain


def events(span: ReadableSpan) -> list[tuple[str, Any]]:
    return [(event.name, (event.attributes or {}).get("exception.type")) for event in span.events]


# -- the server span ----------------------------------------------------------------------


async def test_server_span_named_by_route(exercise, traces):
    """one server span per request, named "GET /items/{item_id}", http.route and status 200"""
    async with shop(exercise, traces) as client:
        response = await client.get("/items/1")
    expect_status(response, 200)
    expect_json(response, {"id": 1, "name": "Desk lamp"})
    span = one(traces.server(), "server span", WIRED)
    expect_equal("server span name", f"GET {ROUTE}", span.name, help=NAMED)
    expect_equal("http.route", ROUTE, span.attributes.get("http.route"), help=NAMED)
    expect_equal("http.response.status_code", 200, span.attributes.get("http.response.status_code"))
    expect_equal("server span status", StatusCode.UNSET, span.status.status_code)


async def test_many_ids_one_name(exercise, traces):
    """ten different ids make ten spans of one name: the template, never the path"""
    async with shop(exercise, traces) as client:
        for item_id in range(1, 11):
            await client.get(f"/items/{item_id}")
    names = {span.name for span in traces.server()}
    expect_equal("server span names", {f"GET {ROUTE}"}, names, help=NAMED)
    expect_equal("server spans", 10, len(traces.server()), help=WIRED)


async def test_not_found_is_no_error(exercise, traces):
    """a 404: status code 404 on the server span, and no span in the trace is an ERROR"""
    async with shop(exercise, traces) as client:
        response = await client.get("/items/7")
    expect_status(response, 404)
    expect_json(response, {"detail": "Item not found"})
    span = one(traces.server(), "server span", WIRED)
    expect_equal("http.response.status_code", 404, span.attributes.get("http.response.status_code"))
    errors = [s.name for s in traces.spans if s.status.status_code == StatusCode.ERROR]
    expect_equal("spans with status ERROR", [], errors, help=NOT_FOUND)
    loaded = one(traces.named("load_item"), '"load_item" span', CHILD)
    expect_equal('"load_item" span events', [], events(loaded), help=NOT_FOUND)


async def test_server_error(exercise, traces):
    """a 500: the server span is an ERROR and carries the exception as an event"""
    async with shop(exercise, traces) as client:
        response = await client.get("/items/13")
    expect_status(response, 500, help=SERVER_ERROR)
    expect_json(response, {"detail": "Internal Server Error"}, help=SERVER_ERROR)
    span = one(traces.server(), "server span", WIRED)
    expect_equal("server span status", StatusCode.ERROR, span.status.status_code)
    expect_equal("http.response.status_code", 500, span.attributes.get("http.response.status_code"))
    expect_equal(
        "server span events", [("exception", "RuntimeError")], events(span), help=SERVER_ERROR
    )
    loaded = one(traces.named("load_item"), '"load_item" span', CHILD)
    expect_equal('"load_item" status', StatusCode.ERROR, loaded.status.status_code, help=CHILD)
    expect_equal('"load_item" events', [("exception", "RuntimeError")], events(loaded), help=CHILD)


# -- the child span -----------------------------------------------------------------------


@pytest.mark.parametrize("item_id", [1, 2, 7])
async def test_load_item_span(exercise, traces, item_id):
    """one "load_item" span per read, item.id set, inside the request's server span"""
    async with shop(exercise, traces) as client:
        response = await client.get(f"/items/{item_id}")
    status, body = ANSWERS[item_id]
    expect_status(response, status)
    expect_json(response, body)
    server = one(traces.server(), "server span", WIRED)
    loaded = one(traces.named("load_item"), '"load_item" span', CHILD)
    expect_equal('"load_item" item.id', item_id, loaded.attributes.get("item.id"), help=CHILD)
    expect_equal(
        '"load_item" trace id',
        hex_id(server.context.trace_id, 32),
        hex_id(loaded.context.trace_id, 32),
        help=CHILD,
    )
    expect(
        server.context.span_id in ancestors(loaded, traces.spans),
        '"load_item" is not inside the request\'s server span',
        help=CHILD,
    )


# -- ids in the log records ---------------------------------------------------------------


async def test_log_records_carry_ids(exercise, traces, records):
    """the record load_item logs has the trace id (32 hex) and its span's id (16 hex)"""
    async with shop(exercise, traces) as client:
        await client.get("/items/2")
    logged = records()
    expect(logged, "nothing was logged on shop.items during GET /items/2", help=LOG_IDS)
    server = one(traces.server(), "server span", WIRED)
    loaded = one(traces.named("load_item"), '"load_item" span', CHILD)
    for record in logged:
        expect_equal(
            "record.trace_id",
            hex_id(server.context.trace_id, 32),
            getattr(record, "trace_id", "no trace_id attribute"),
            help=LOG_IDS,
        )
        expect_equal(
            "record.span_id",
            hex_id(loaded.context.span_id, 16),
            getattr(record, "span_id", "no span_id attribute"),
            help=LOG_IDS,
        )


async def test_log_records_outside_a_span(exercise, traces, records):
    """a record logged outside any span has trace_id and span_id None"""
    async with shop(exercise, traces) as client:
        await client.get("/items/1")
        logging.getLogger(LOGGER).warning("outside a request")
    record = records()[-1]
    expect_equal("record.trace_id", None, getattr(record, "trace_id", "missing"), help=LOG_IDS)
    expect_equal("record.span_id", None, getattr(record, "span_id", "missing"), help=LOG_IDS)


# -- propagation, probes, providers -------------------------------------------------------


async def test_traceparent_continued(exercise, traces, records):
    """an incoming traceparent is continued: same trace id, the caller's span as parent"""
    async with shop(exercise, traces) as client:
        await client.get("/items/1", headers={"traceparent": TRACEPARENT})
    server = one(traces.server(), "server span", WIRED)
    expect_equal("trace id", TRACE_ID, hex_id(server.context.trace_id, 32), help=PROPAGATED)
    parent = server.parent.span_id if server.parent is not None else None
    expect_equal("parent span id", PARENT_ID, parent and hex_id(parent, 16), help=PROPAGATED)
    for span in traces.spans:
        expect_equal(f"trace id of {span.name}", TRACE_ID, hex_id(span.context.trace_id, 32))
    for record in records():
        expect_equal("record.trace_id", TRACE_ID, getattr(record, "trace_id", None), help=LOG_IDS)


async def test_health_probe_untraced(exercise, traces):
    """GET /healthz answers 200 {"status": "ok"} and makes no span at all"""
    async with shop(exercise, traces) as client:
        response = await client.get("/healthz")
        expect_status(response, 200)
        expect_json(response, {"status": "ok"})
        expect_equal("spans for /healthz", [], [s.name for s in traces.spans], help=PROBE)
        await client.get("/items/1")
    expect_equal("server spans after /items/1", 1, len(traces.server()), help=PROBE)


async def test_each_app_its_provider(exercise):
    """two apps, two providers: each provider sees only its own app's requests"""
    first, second = Traces(), Traces()
    async with shop(exercise, first) as one_client, shop(exercise, second) as other_client:
        await one_client.get("/items/1")
        await other_client.get("/items/2")
        await other_client.get("/items/7")
    expect_equal("server spans of the first app", 1, len(first.server()), help=WIRED)
    expect_equal("server spans of the second app", 2, len(second.server()), help=WIRED)
    expect_equal("load_item spans of the first app", 1, len(first.named("load_item")), help=CHILD)
    expect_equal("load_item spans of the second app", 2, len(second.named("load_item")), help=CHILD)
