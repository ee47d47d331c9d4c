"""Export formats: orders as CSV and as JSON Lines, byte for byte."""

import csv
import io
from collections.abc import AsyncIterator, Iterable
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Response
from pydantic import BaseModel


class Order(BaseModel):
    id: int
    customer: str
    total: Decimal
    note: str | None = None


class CSVResponse(Response):
    media_type = "text/csv"

    def render(self, content: Iterable[Iterable[Any]]) -> bytes:
        buffer = io.StringIO()
        # the csv module quotes commas, quotes and newlines, and ends every row with \r\n
        csv.writer(buffer).writerows(content)
        return buffer.getvalue().encode(self.charset)


ORDERS = [
    Order(id=1, customer="Ada Lovelace", total=Decimal("12.50")),
    Order(id=2, customer="Grace Hopper", total=Decimal("3.00"), note="leave at the door"),
]


async def get_orders() -> list[Order]:
    return ORDERS


Orders = Annotated[list[Order], Depends(get_orders)]

app = FastAPI()


@app.get("/orders.csv", response_class=CSVResponse)
async def export_csv(orders: Orders) -> CSVResponse:
    header = list(Order.model_fields)
    return CSVResponse([header, *(order.model_dump().values() for order in orders)])


# a generator with its item type: FastAPI streams JSON Lines, each line written by Pydantic
@app.get("/orders.jsonl")
async def export_jsonl(orders: Orders) -> AsyncIterator[Order]:
    for order in orders:
        yield order
