import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Annotated, TextIO

from fastapi import BackgroundTasks, Depends, FastAPI
from fastapi.responses import StreamingResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# --8<-- [start:context]
request_id: ContextVar[str] = ContextVar("request_id", default="-")
ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        rid = incoming if ACCEPTABLE_ID.fullmatch(incoming) else uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["x-request-id"] = rid
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


# --8<-- [end:context]
# --8<-- [start:logging]
class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being served, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


LOG_FORMAT = "%(request_id)s %(name)s: %(message)s"


def request_id_handler(stream: TextIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())  # on the handler: it sees every record it writes
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


LOGGING = {  # the same for logging.config.dictConfig, or uvicorn.run(log_config=LOGGING)
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": RequestIdFilter}},
    "formatters": {"plain": {"format": LOG_FORMAT}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "plain",
        },
    },
    "root": {"handlers": ["console"], "level": "INFO"},
}
# --8<-- [end:logging]
# --8<-- [start:app]
logger = logging.getLogger("shop")


class Payments:
    async def charge(self, order: str) -> None:
        """Calls the payment provider (left out here)."""


def get_payments() -> Payments:
    return Payments()


async def send_receipt(order: str) -> None:
    logger.info("receipt sent for %s", order)


app = FastAPI()
app.add_middleware(RequestIdMiddleware)


@app.post("/orders/{order}")
async def place_order(
    order: str, payments: Annotated[Payments, Depends(get_payments)], tasks: BackgroundTasks
) -> dict[str, str]:
    logger.info("charging %s", order)
    await payments.charge(order)
    logger.info("charged %s", order)
    tasks.add_task(send_receipt, order)
    return {"order": order, "request_id": request_id.get()}


@app.get("/stock/{sku}")
def read_stock(sku: str) -> dict[str, int]:  # a def endpoint: it runs in a worker thread
    logger.info("stock lookup for %s", sku)
    return {sku: 3}


@app.get("/orders.csv")
async def export_orders() -> StreamingResponse:
    async def rows() -> AsyncIterator[str]:
        for order in ("a-1", "a-2"):
            logger.info("exporting %s", order)
            yield f"{order}\n"

    return StreamingResponse(rows(), media_type="text/csv")


@app.get("/crash")
async def crash() -> None:
    logger.info("about to fail")
    raise RuntimeError("database is down")


# --8<-- [end:app]
