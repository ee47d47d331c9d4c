import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# --8<-- [start:formatter]
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Every attribute a plain LogRecord has; anything else on a record came from `extra=`.
STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        for key, value in vars(record).items():
            if key not in STANDARD_ATTRIBUTES:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


# --8<-- [end:formatter]
# --8<-- [start:config]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        }
    },
    "loggers": {"app": {"level": "INFO"}},
    "root": {"handlers": ["stdout"], "level": "WARNING"},
}
# at startup, once: logging.config.dictConfig(LOGGING)
# --8<-- [end:config]
# --8<-- [start:middleware]
access_log = logging.getLogger("app.access")
ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
UNMATCHED = "<unmatched>"


class AccessLogMiddleware:
    """Exactly one access line per HTTP request, written when the last byte is sent."""

    def __init__(self, app: ASGIApp, clock: Callable[[], float] = time.perf_counter) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        rid = incoming if ACCEPTABLE_ID.fullmatch(incoming) else uuid.uuid4().hex
        status = 500  # what the client gets if the app raises before answering
        started = self.clock()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["x-request-id"] = rid
            await send(message)

        token = request_id.set(rid)
        failed = False
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            failed = True
            raise
        finally:
            route = scope.get("route")  # set by the router once a route matched
            fields = {
                "method": scope["method"],
                "route": getattr(route, "path", UNMATCHED),
                "status": 500 if failed else status,
                "duration_ms": round((self.clock() - started) * 1000, 3),
            }
            access_log.info("request", extra=fields, exc_info=failed)
            request_id.reset(token)


# --8<-- [end:middleware]
def create_app(clock: Callable[[], float] = time.perf_counter) -> FastAPI:
    app = FastAPI()
    app.add_middleware(AccessLogMiddleware, clock=clock)

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, int]:
        logging.getLogger("app.items").info("loading item", extra={"item_id": item_id})
        return {"item_id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("the database said no")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for n in range(3):
                yield f"chunk {n}\n".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    return app
