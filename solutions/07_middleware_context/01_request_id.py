"""A request id in every log line: a pure ASGI middleware, a ContextVar and a log filter."""

import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextvars import ContextVar

from fastapi import FastAPI, HTTPException
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

request_id: ContextVar[str] = ContextVar("request_id", default="-")
logger = logging.getLogger("shop.orders")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = Headers(scope=scope).get(HEADER, "")
        current = sent if ACCEPTABLE_ID.fullmatch(sent) else uuid.uuid4().hex
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)[HEADER] = current
            await send(message)

        token = request_id.set(current)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not started:
                # ServerErrorMiddleware is outside us: its 500 would never pass send_with_id
                error = PlainTextResponse("Internal Server Error", status_code=500)
                await error(scope, receive, send_with_id)
            raise
        finally:
            request_id.reset(token)  # the id ends with the request, even in a reused task


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
