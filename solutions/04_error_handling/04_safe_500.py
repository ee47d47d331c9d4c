"""Safe 500s: an unhandled error answers a problem with a correlation id, and is logged."""

import logging
import uuid
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://example.com/problems/"
SAFE_DETAIL = "Something went wrong on our side. Quote the correlation id if you report it."

logger = logging.getLogger("shop.errors")


class Order(BaseModel):
    id: int
    total_cents: int


class OrderArchived(Exception):
    def __init__(self, order_id: int) -> None:
        self.order_id = order_id


class Orders:
    """The order store: in memory here, a database in production."""

    def __init__(self) -> None:
        self._orders = {1: Order(id=1, total_cents=1250)}
        self._archived = {2}

    async def get(self, order_id: int) -> Order | None:
        if order_id in self._archived:
            raise OrderArchived(order_id)
        return self._orders.get(order_id)


async def get_orders() -> Orders:
    return Orders()


OrdersDep = Annotated[Orders, Depends(get_orders)]


def problem(
    request: Request, status: int, type_: str, title: str, detail: str, **extensions: object
) -> JSONResponse:
    body = {"type": type_, "title": title, "status": status, "detail": detail}
    body["instance"] = request.url.path
    return JSONResponse(body | extensions, status_code=status, media_type=PROBLEM_JSON)


app = FastAPI()


@app.exception_handler(OrderArchived)
async def order_archived(request: Request, exc: OrderArchived) -> JSONResponse:
    detail = f"Order {exc.order_id} was archived."
    return problem(request, 410, PROBLEMS + "order-archived", "Order archived", detail)


@app.exception_handler(Exception)
async def unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    # the id ties the client's report to the log record; the details stay in the log
    correlation_id = uuid.uuid4().hex
    extra = {"correlation_id": correlation_id}
    logger.error("unhandled error %s", correlation_id, exc_info=exc, extra=extra)
    response = problem(request, 500, "about:blank", "Internal Server Error", SAFE_DETAIL, **extra)
    response.headers["X-Correlation-ID"] = correlation_id
    return response


@app.get("/orders/{order_id}")
async def read_order(order_id: int, orders: OrdersDep) -> Order:
    if (order := await orders.get(order_id)) is None:
        raise HTTPException(status_code=404, detail="Order not found")
    return order
