"""One JSON line per request: a pure ASGI access-log middleware and a JSON log formatter.

Task: the shop's logs are free text that no log platform can search. Write a formatter that
turns every log record into one JSON object on one line, and a middleware that logs exactly
one such line for every request: who asked (the request id), what (method and route
template), how it went (status) and how long it took (duration). Write the middleware as a
pure ASGI class (`__call__(scope, receive, send)`), as in module 07.

The contract (the checks rely on every line):
- Given, keep as it is: HEADER, UNMATCHED ("<unmatched>"), REQUEST_FIELDS, `access_logger`
  (the logger named "shop.access"), ITEMS and `create_app(clock=time.perf_counter)` (keep
  this name), which adds `AccessLogMiddleware(app, clock=clock)` and the routes below. The
  checks pass a clock of their own, add routes of their own, and attach their own handler
  and level to the `shop` logger: configure no logging here.
- `JsonFormatter` (keep this name) is a `logging.Formatter` whose `format(record)` returns
  `json.dumps` of one object (so one line, even for a message with a line break) with
  exactly these keys: "level" (record.levelname), "logger" (record.name), "message"
  (record.getMessage()); then each field of REQUEST_FIELDS that the record has as an
  attribute, with its value (a record without them has none of these keys; other
  attributes are not written); then "exc_info", the traceback as
  `self.formatException(record.exc_info)` gives it, only when the record has exc_info.
- `AccessLogMiddleware(app, clock=time.perf_counter)` (keep this name and the default, a
  monotonic clock) logs exactly one record on `access_logger` per HTTP request, once the
  app has returned or raised, with these attributes (pass them as `extra=`):
  - request_id: the request's `X-Request-ID` header when it is 1 to 64 characters, each
    an ASCII letter, an ASCII digit, "-", "_" or "."; otherwise (no header, empty, longer,
    any other character) a new `uuid.uuid4().hex`. Every response the app starts carries
    `X-Request-ID: <the id>` once. (The 500 that Starlette sends for an unhandled error
    comes from outside the middleware: its headers are not graded.)
  - method: the request method.
  - route: the path template of the route that matched, `scope["route"].path` once the
    app has run (`/items/{item_id}`, never `/items/42`), also for a 404 raised by the
    route, a 422 and a 405; UNMATCHED when no route matched the path.
  - status: the status of the `http.response.start` the app sent; 500 when the app raised
    before starting a response.
  - duration_ms: `round((end - start) * 1000, 3)`, where `start = clock()` is read before
    calling the app and `end = clock()` after it has returned or raised (so a streamed
    response is timed to its last byte, not to its start).
  The message is "<method> <route> <status>" (e.g. "GET /items/{item_id} 200"); the level
  is ERROR when the app raised or the status is 500 or more, else INFO. When the app
  raised, the exception is passed as `exc_info` on that same record (no other record logs
  it), then raised again as it is, for the server.
- Other scope types (the lifespan) pass through: nothing is logged for them.
- Routes, given: `GET /items/{item_id}` answers an item or 404; `GET /items/export`
  streams every item as JSON Lines; `GET /boom` raises RuntimeError("boom").
"""

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

HEADER = "X-Request-ID"
UNMATCHED = "<unmatched>"
REQUEST_FIELDS = ("request_id", "method", "route", "status", "duration_ms")

Clock = Callable[[], float]
access_logger = logging.getLogger("shop.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # TODO: Build a dict of level, logger and message, add the REQUEST_FIELDS the record
        # TODO: carries and exc_info when it has one, and return json.dumps of it.
        return super().format(record)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, clock: Clock = time.perf_counter) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # TODO: Let non-HTTP scopes through. Choose the request id (the acceptable
        # TODO: X-Request-ID, or uuid.uuid4().hex) and add it to http.response.start,
        # TODO: remembering the status sent there (500 if the app raises first).
        # TODO: Read the clock before and after the app, in a try/finally, and log one
        # TODO: record on access_logger with the request fields as extra= (and exc_info
        # TODO: when the app raised, which you then raise again).
        await self.app(scope, receive, send)


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
