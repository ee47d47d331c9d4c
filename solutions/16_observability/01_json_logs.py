"""One JSON line per request: a pure ASGI access-log middleware and a JSON log formatter."""

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
UNMATCHED = "<unmatched>"
REQUEST_FIELDS = ("request_id", "method", "route", "status", "duration_ms")

Clock = Callable[[], float]
access_logger = logging.getLogger("shop.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in REQUEST_FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, clock: Clock = time.perf_counter) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = Headers(scope=scope).get(HEADER, "")
        request_id = sent if ACCEPTABLE_ID.fullmatch(sent) else uuid.uuid4().hex
        status = 500  # what the client gets when the app raises before a response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        start = self.clock()
        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            error = exc
            raise
        finally:
            # the app returns once the last byte is sent: a stream is timed to its end
            duration_ms = round((self.clock() - start) * 1000, 3)
            route = getattr(scope.get("route"), "path", UNMATCHED)
            access_logger.log(
                logging.ERROR if error is not None or status >= 500 else logging.INFO,
                "%s %s %s",
                scope["method"],
                route,
                status,
                exc_info=error,
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )


ITEMS = {1: "tea", 2: "scones"}


def create_app(clock: Clock = time.perf_counter) -> FastAPI:
    app = FastAPI()
    app.add_middleware(AccessLogMiddleware, clock=clock)

    @app.get("/items/export")
    async def export_items() -> StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            for item_id, name in ITEMS.items():
                yield json.dumps({"id": item_id, "name": name}) + "\n"

        return StreamingResponse(lines(), media_type="application/jsonl")

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, Any]:
        if (name := ITEMS.get(item_id)) is None:
            raise HTTPException(status_code=404, detail="Item not found")
        return {"id": item_id, "name": name}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app
