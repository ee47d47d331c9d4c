r"""Export formats: orders as CSV and as JSON Lines, byte for byte.

Task: the shop exports its orders for a spreadsheet and for a data pipeline. Write the
`CSVResponse` class and make the two export routes answer the exact bytes below.

The contract (the checks rely on it):
- `Order`, `ORDERS`, `get_orders` and `app` (keep these names) stay as they are: `get_orders`
  hands out the two sample orders of `ORDERS`, the checks override it to hand out orders of
  their own, and every export lists the orders in the order `get_orders` returns them.
- `CSVResponse` (keep this name) is a `Response` subclass whose `media_type` is `text/csv`,
  so its `content-type` header is `text/csv; charset=utf-8`. `CSVResponse(rows)` takes a
  list of rows, each a list or tuple of values, and its body is the rows in CSV, UTF-8
  encoded, written exactly as Python's `csv.writer` writes them with its default dialect:
  - values are separated by `,` and every row ends with `\r\n`, the last one too;
  - `None` is an empty field, any other value is written as `str(value)` (`Decimal("12.50")`
    as `12.50`);
  - a value that contains a comma, a double quote, `\r` or `\n` is enclosed in double quotes,
    each double quote in it doubled (`a "b" c` becomes `"a ""b"" c"`); every other value
    is written bare: no quotes around plain text, spaces, numbers or empty fields (the checks use
    rows of two or more values);
  - no rows at all give an empty body.
- `GET /orders.csv` answers 200 with a `CSVResponse`: the header row `id,customer,total,note`,
  then one row per order with its four values in that order. With no orders, the body is the
  header row alone. The OpenAPI document gives `text/csv` (and no other media type) for its
  200 response.
- `GET /orders.jsonl` answers 200 with `content-type: application/jsonl` and one line per
  order: the order as Pydantic writes it in JSON (`order.model_dump_json()`: compact, no
  spaces, the keys in field order, `total` as a string like `"12.50"`, a missing `note` as
  `null`, non-ASCII characters as UTF-8, not `\u` escapes), each line followed by `\n`, the
  last one too. With no orders, the body is empty. The OpenAPI document gives
  `application/jsonl` (and no other media type) for its 200 response, with the `Order` schema
  as the `itemSchema` of each line.
"""

from decimal import Decimal
from typing import Annotated

from fastapi import Depends, FastAPI, Response
from pydantic import BaseModel


class Order(BaseModel):
    id: int
    customer: str
    total: Decimal
    note: str | None = None


class CSVResponse(Response):
    # TODO: Set the media type, and override render() to write the rows with the csv module.
    pass


ORDERS = [
    Order(id=1, customer="Ada Lovelace", total=Decimal("12.50")),
    Order(id=2, customer="Grace Hopper", total=Decimal("3.00"), note="leave at the door"),
]


async def get_orders() -> list[Order]:
    return ORDERS


Orders = Annotated[list[Order], Depends(get_orders)]

app = FastAPI()


@app.get("/orders.csv")
async def export_csv(orders: Orders) -> list[Order]:
    # TODO: Answer a CSVResponse: the header row, then one row per order; document text/csv.
    return orders


@app.get("/orders.jsonl")
async def export_jsonl(orders: Orders) -> list[Order]:
    # TODO: Stream the orders as JSON Lines: make this a generator that yields each order.
    return orders
