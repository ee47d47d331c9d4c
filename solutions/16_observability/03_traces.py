"""Traces named by route: FastAPI's built-in telemetry, a span around the work, ids in the logs."""

import logging
from collections.abc import MutableMapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
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
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else None
        record.span_id = format(context.span_id, "016x") if context.is_valid else None
        return True


logger.addFilter(TraceContextFilter())


def load_item(tracer: Tracer, item_id: int) -> Item | None:
    """The item, or None when there is none; the storage's failure goes on as raised."""
    with tracer.start_as_current_span("load_item", attributes={"item.id": item_id}):
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


async def record_server_error(request: Request, exc: Exception) -> JSONResponse:
    # the server span is current here: its trace then says what went wrong, not only that
    trace.get_current_span().record_exception(exc)
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


def is_probe(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in PROBES


def create_app(tracer_provider: TracerProvider | None = None) -> FastAPI:
    provider = tracer_provider or trace.get_tracer_provider()
    app = FastAPI(telemetry={"tracer_provider": tracer_provider, "exclude": is_probe})
    app.state.tracer = provider.get_tracer("shop.items")
    app.include_router(router)
    app.add_exception_handler(Exception, record_server_error)
    return app


app = create_app()
