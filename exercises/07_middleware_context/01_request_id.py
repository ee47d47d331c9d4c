"""A request id in every log line: a pure ASGI middleware, a ContextVar and a log filter.

Task: when two requests are served at once, their log lines mix, and nobody can tell which
line belongs to which request. Give every request an id, send it back in the response, and
put it on every log record made while the request is served. Write the middleware as a pure
ASGI class (a class with `__call__(scope, receive, send)`), not with BaseHTTPMiddleware or
`@app.middleware("http")`.

The contract (the checks rely on it):
- `app` (keep this name) serves the routes below, with `RequestIdMiddleware` (keep this
  name) added by `app.add_middleware`. The checks add routes of their own to `app`.
- The id of a request is the value of its `X-Request-ID` header when that value is
  acceptable: 1 to 64 characters, each one an ASCII letter (a-z, A-Z), an ASCII digit,
  `-`, `_` or `.`. Otherwise (no header, an empty one, 65 characters or more, any other
  character such as a space, `/`, `:` or `é`) it is a new id, `uuid.uuid4().hex` (32
  lowercase hex digits), made for that request. (A header sent twice is not graded.)
- Every response carries `X-Request-ID: <the id>` exactly once and keeps its own status,
  headers and body: 200s, 404s (an unknown order, an unknown path), 405s, 422s, streamed
  responses (the header comes with the response start, before the first chunk), and the
  500 of an unhandled error.
- An unhandled error: when no response has started, the client gets a 500 with the header
  (its body is not graded); when a streamed response has already started, nothing more is
  sent. Either way the exception then reaches the server, raised as it is.
- `request_id` (keep this name) is a `ContextVar[str]` with the default "-". While the app
  serves a request (its route, its dependencies, a streamed body) it holds that request's
  id, and each request served at the same time sees its own. Once the middleware is done,
  whether it returned or raised, it is "-" again, even in the same task: in-process test
  clients serve every request in the caller's task.
- `RequestIdFilter` (keep this name) is a `logging.Filter`: its `filter(record)` sets
  `record.request_id` to the current value of `request_id` and keeps every record
  (returns True). The checks attach it to a handler on the `shop` logger, so each record
  the app logs on `shop.orders` (and the checks on `shop.probe`) gets its request's id,
  or "-" outside any request.
- Other ASGI scopes, such as the lifespan and a websocket (the checks run both), pass
  through untouched: no id is chosen or set for them, so what they log carries "-".
- Given, keep as it is: `GET /orders/{order_id}` logs "reading order <id>" and answers
  the order, or 404 `{"detail": "Order not found"}`; `GET /orders/export` streams every
  order as JSON Lines, logging "exporting order <id>" before each line.
"""

import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

HEADER = "X-Request-ID"

request_id: ContextVar[str] = ContextVar("request_id", default="-")
logger = logging.getLogger("shop.orders")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # TODO: Put the current request id on the record as record.request_id.
        return True


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # TODO: Choose the request's id: the acceptable X-Request-ID, or uuid.uuid4().hex.
        # TODO: Set request_id for the duration of the call, and reset it with its token.
        # TODO: Wrap send so that http.response.start carries X-Request-ID.
        # TODO: On an unhandled error before the response started, send a 500, then re-raise.
        await self.app(scope, receive, send)


class Order(BaseModel):
    id: int
    item: str


ORDERS = {1: Order(id=1, item="tea"), 2: Order(id=2, item="scones")}

app = FastAPI()
app.add_middleware(RequestIdMiddleware)


@app.get("/orders/export")
async def export_orders() -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for order in ORDERS.values():
            logger.info("exporting order %s", order.id)
            yield order.model_dump_json() + "\n"

    return StreamingResponse(lines(), media_type="application/jsonl")


@app.get("/orders/{order_id}")
async def read_order(order_id: int) -> Order:
    logger.info("reading order %s", order_id)
    if (order := ORDERS.get(order_id)) is None:
        raise HTTPException(status_code=404, detail="Order not found")
    return order
