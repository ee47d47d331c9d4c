"""Traces named by route: FastAPI's built-in telemetry, a span around the work, ids in the logs.

Task: the shop's items service runs with FastAPI's built-in OpenTelemetry telemetry, and yet
its traces say little: they go to whatever provider is global, the work inside a request is
one opaque block, a 500 says "error" without saying which, the health probe floods the
traces, and nothing in the logs leads to a trace. Make the traces worth reading.

The contract (the checks rely on it):
- Given, keep as they are: `ITEMS`, `BROKEN_ITEM` (13), `PROBES`, `logger` (the logger
  `shop.items`), `Item`, `get_tracer`, `TracerDep`, `router`, `read_item`, `healthz` and
  `app = create_app()` (keep these names).
- `create_app(tracer_provider=None)` (keep this name) makes a new app each call, built on
  FastAPI's own telemetry: `FastAPI(telemetry={...})` with `"tracer_provider"` set to the
  given provider (None: the global one), and tracing on. It keeps a tracer from that same
  provider in `app.state.tracer` (`provider.get_tracer(...)`, where the provider is the
  given one or, for None, `trace.get_tracer_provider()`): the checks hand each app a
  provider of their own with an in-memory exporter and never set the global provider, so
  two apps never see each other's spans. Do not set the global provider.
- FastAPI then makes, for each request, one server span named by the route template
  (`GET /items/{item_id}`, never the raw path) with `http.route` and
  `http.response.status_code`, an ERROR status when the answer is a 500, and it continues
  an incoming W3C `traceparent` header (same trace id, the caller's span as parent). Keep
  all of that working; operation spans (`fastapi.*`) may be on or off.
- `GET /healthz` answers 200 `{"status": "ok"}` and makes no span: exclude the paths in
  `PROBES` through the telemetry config's `"exclude"` (a function of the ASGI scope).
- `load_item(tracer, item_id)` (keep this name) does its work inside a span named
  `"load_item"` with the attribute `item.id` (the int), opened with
  `tracer.start_as_current_span`: one such span per `GET /items/{item_id}`, a descendant
  of the request's server span. It returns the item, or None when `ITEMS` has none (the
  endpoint then answers 404 `{"detail": "Item not found"}` outside the span: a missing
  item is no error, and no span of its trace has an ERROR status or an exception event).
  For `BROKEN_ITEM` it raises `RuntimeError` inside the span: the `load_item` span then
  has an ERROR status and one `exception` event (what `start_as_current_span` does by
  default). It logs one record on `logger` while its span is current.
- A 500: an exception handler for `Exception` records the exception on the current span,
  which is the server span there (`trace.get_current_span().record_exception(exc)`: one
  `exception` event with `exception.type` "RuntimeError"), and answers 500
  `{"detail": "Internal Server Error"}`.
- `TraceContextFilter` (keep this name), a `logging.Filter` on `logger`, adds to every
  record `trace_id` (the current span's trace id as 32 lowercase hex digits,
  `format(trace_id, "032x")`) and `span_id` (16 lowercase hex digits), or None for both
  when there is no valid current span (outside a request); it lets every record through.
  Module 01's JSON formatter writes these attributes into the line. Attach it when the
  module is imported, once.
- The checks turn warnings into errors.
- Not graded: the message of the records, span names other than `load_item` and the
  server span, the tracer's name, other attributes.
"""

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from opentelemetry import trace
from opentelemetry.trace import Tracer, TracerProvider
from pydantic import BaseModel

ITEMS = {1: "Desk lamp", 2: "Office chair"}
BROKEN_ITEM = 13  # its storage is corrupt: loading it raises
PROBES = frozenset({"/healthz"})

logger = logging.getLogger("shop.items")


class Item(BaseModel):
    id: int
    name: str


class TraceContextFilter(logging.Filter):
    """Adds the current span's ids to every record: `trace_id` (32 hex), `span_id` (16 hex)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # TODO: record.trace_id and record.span_id from trace.get_current_span(), or None.
        return True


# TODO: attach the filter to `logger`.


def load_item(tracer: Tracer, item_id: int) -> Item | None:
    """The item, or None when there is none; the storage's failure goes on as raised."""
    # TODO: all of this inside a span "load_item" with the attribute item.id.
    logger.info("loading item %s", item_id)
    if item_id == BROKEN_ITEM:
        raise RuntimeError(f"item {item_id} is corrupt")
    name = ITEMS.get(item_id)
    return None if name is None else Item(id=item_id, name=name)


def get_tracer(request: Request) -> Tracer:
    return request.app.state.tracer


TracerDep = Annotated[Tracer, Depends(get_tracer)]

router = APIRouter()


@router.get("/items/{item_id}")
async def read_item(item_id: int, tracer: TracerDep) -> Item:
    if (item := load_item(tracer, item_id)) is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return item


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


# TODO: an exception handler for Exception that records the exception on the current span.


def create_app(tracer_provider: TracerProvider | None = None) -> FastAPI:
    # TODO: FastAPI(telemetry={...}) with the provider and the probes excluded; the tracer
    # from the same provider.
    app = FastAPI()
    app.state.tracer = trace.get_tracer("shop.items")
    app.include_router(router)
    return app


app = create_app()
