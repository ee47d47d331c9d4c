"""Answer on FastAPI's fast path: validate once, write the JSON bytes once.

The two routes below answer the right bytes the slow way. `GET /orders` makes a model of
every row, walks them again with `jsonable_encoder` into dicts and lists, and hands those to
a `JSONResponse`, whose `json.dumps` walks them a third time. `GET /orders/{order_id}`
declares no type, so FastAPI knows nothing to check it against, calls `jsonable_encoder` on
the dict the route made, and the OpenAPI document cannot say what it answers.

On FastAPI 0.165, a route that declares what it answers (a return type or `response_model`)
and sets no `response_class` validates the returned value once against that type (with
`from_attributes=True`, so an object with the right attributes is read as it is) and has
pydantic-core write the JSON bytes once (`TypeAdapter.dump_json`), with no `jsonable_encoder`
and no `json.dumps`.

Contract (the checks rely on every line):
- `OrderRow`, `get_rows`, `OrderOut` and `app` (keep these names, and the fields of
  `OrderOut`): the checks override `get_rows` to hand out rows of their own, objects with the
  attributes of `OrderRow` and possibly more.
- `GET /orders` answers 200 with a JSON array of the rows, in the order `get_rows` gives them
  (`[]` when there are none), each an object with exactly `id`, `customer` and `total_cents`,
  in this order; nothing else a row carries (`internal_note`, or any other attribute) is
  served.
- `GET /orders/{order_id}` answers 200 with the first row whose `id` is `order_id`, as one
  such object, or 404 with `{"detail":"Order not found"}` when there is none.
- Bodies are compact UTF-8 JSON (no spaces, `ë` as itself, not `\\u00eb`) with
  `content-type: application/json`: the bytes the slow routes answer today.
- The fast path, counted for every 200 answer: the serialization work done for a type that
  holds `OrderOut` is exactly one `TypeAdapter.validate_python` and then one
  `TypeAdapter.dump_json` (FastAPI's own), and nothing else: no `jsonable_encoder` (yours or
  FastAPI's), no `JSONResponse` rendering, no `dump_python`, no `OrderOut.model_validate`,
  `model_dump` or `model_dump_json`. So the routes return the rows as they are, declare
  `OrderOut` (or `list[OrderOut]`) as what they answer, and set no `response_class`.
- The OpenAPI document describes both 200 answers: an array of
  `#/components/schemas/OrderOut` for `GET /orders`, that schema itself for
  `GET /orders/{order_id}`; its properties are exactly `id`, `customer` and `total_cents`.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel


@dataclass
class OrderRow:
    id: int
    customer: str
    total_cents: int
    internal_note: str


ROWS = [
    OrderRow(1, "Zoë", 1250, "paid by card"),
    OrderRow(2, "Ana", 990, "asked for a gift box"),
]


async def get_rows() -> list[OrderRow]:
    return ROWS


class OrderOut(BaseModel):
    id: int
    customer: str
    total_cents: int


Rows = Annotated[list[OrderRow], Depends(get_rows)]

app = FastAPI()


# TODO: declare what the route answers and return the rows as they are.
@app.get("/orders")
async def list_orders(rows: Rows) -> JSONResponse:
    orders = [OrderOut.model_validate(row, from_attributes=True) for row in rows]
    return JSONResponse(jsonable_encoder(orders))


# TODO: declare what the route answers and return the row as it is.
@app.get("/orders/{order_id}")
async def read_order(order_id: int, rows: Rows):
    for row in rows:
        if row.id == order_id:
            return OrderOut.model_validate(row, from_attributes=True).model_dump()
    raise HTTPException(status_code=404, detail="Order not found")
