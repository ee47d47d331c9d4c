"""Conditional GET: a strong ETag, If-None-Match and 304 Not Modified."""

import csv
import hashlib
import io
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Response
from pydantic import BaseModel

JSON, CSV = "application/json", "text/csv"


class Order(BaseModel):
    id: int
    customer: str
    total: Decimal
    note: str | None = None


ORDERS = {
    1: Order(id=1, customer="Ada Lovelace", total=Decimal("12.50")),
    2: Order(id=2, customer="Hopper, Grace", total=Decimal("3.00"), note="ring twice"),
}


async def get_orders() -> dict[int, Order]:
    return ORDERS


Orders = Annotated[dict[int, Order], Depends(get_orders)]


def render_json(order: Order) -> bytes:
    return order.model_dump_json().encode()


def render_csv(order: Order) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([list(Order.model_fields), order.model_dump().values()])
    return buffer.getvalue().encode()


RENDERERS = {JSON: render_json, CSV: render_csv}


def make_etag(body: bytes) -> str:
    # strong, and a name for these exact bytes: each representation gets its own
    return f'"{hashlib.sha256(body).hexdigest()}"'


def is_not_modified(if_none_match: str | None, etag: str) -> bool:
    tags = [tag.strip() for tag in (if_none_match or "").split(",")]
    # If-None-Match compares weakly: W/"x" names the same bytes as "x"
    return tags == ["*"] or etag in (tag.removeprefix("W/") for tag in tags)


app = FastAPI()


@app.get("/orders/{order_id}")
async def read_order(
    order_id: int,
    orders: Orders,
    accept: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    order = orders.get(order_id)
    if order is None:
        raise HTTPException(status_code=404, detail="Order not found")
    media_type = CSV if accept == CSV else JSON
    body = RENDERERS[media_type](order)
    etag = make_etag(body)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Accept"}
    if is_not_modified(if_none_match, etag):
        # a 304 repeats the validators and caching headers, and never has a body
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
