"""Safe 500s: an unhandled error answers a problem with a correlation id, and is logged.

Task: when something breaks that nobody planned for (the database is down, a bug raises
`KeyError`), the client must get a 500 problem that tells it nothing about the insides, plus an
id it can quote; the same id goes into the log, beside the whole exception. Add it.

The contract (the checks rely on it):
- `app` (keep this name) serves `GET /orders/{order_id}` through the `get_orders` dependency
  (keep this name; the checks replace it, through `app.dependency_overrides`, with a store whose
  `get` raises, or with a dependency that raises itself). Keep the routes, the store and the
  `order-archived` handler as they are.
- An exception that no other handler answers, raised in the endpoint or in a dependency,
  answers status 500 with `Content-Type: application/problem+json`, the header
  `X-Correlation-ID: <id>` and exactly this body (`SAFE_DETAIL` is the constant below):
      {"type": "about:blank", "title": "Internal Server Error", "status": 500,
       "detail": SAFE_DETAIL, "instance": <the request path, without the query string>,
       "correlation_id": <id>}
  where both `<id>`s are the same correlation id.
- The id is a fresh random UUID4 written as 32 lowercase hex digits (`uuid.uuid4().hex`),
  new for every error: an `X-Correlation-ID` the client sends is never reused.
- Each unhandled error writes exactly one record to the logger named `shop.errors` (keep this
  name): level ERROR, the id in its message and as its `correlation_id` attribute (pass it
  in `extra=`, for log formatters that emit fields), and the exception itself as its
  `exc_info`, so that the traceback is in the log.
- Nothing of the exception reaches the client: not its text, not its class name, not a
  traceback, in the body or in any header.
- Every other answer stays as it is, without `X-Correlation-ID` and with nothing logged on
  `shop.errors`: order 1 (200), an unknown order (404, FastAPI's `{"detail": "Order not
  found"}`), the archived order 2 (410 problem), a non-integer id (FastAPI's 422).
"""

import logging
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


# TODO: Register a handler for every unhandled exception that logs it once on `logger`
#       (level ERROR, with the exception and a fresh correlation id) and answers the 500
#       problem of the contract, with the same id in the body and in `X-Correlation-ID`.


@app.get("/orders/{order_id}")
async def read_order(order_id: int, orders: OrdersDep) -> Order:
    if (order := await orders.get(order_id)) is None:
        raise HTTPException(status_code=404, detail="Order not found")
    return order
