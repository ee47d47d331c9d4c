r"""Conditional GET: a strong ETag, If-None-Match and 304 Not Modified.

Task: clients poll `GET /orders/{order_id}` and download the same bytes again and again.
Give each answer a strong `ETag`, answer `304 Not Modified` when the client already holds
the current bytes, and tell caches how to store the answers.

The contract (the checks rely on it):
- `Order`, `ORDERS`, `get_orders`, `render_json`, `render_csv`, `RENDERERS` and `app` (keep
  these names) stay as they are: `get_orders` hands out the orders by id (the checks
  override it to hand out orders of their own, and change them between requests), and the
  two `render_*` functions write an order's bytes as JSON and as CSV.
- `make_etag(body)` (keep this name) takes the bytes of a representation and returns a
  strong entity tag: the SHA-256 digest of exactly these bytes in lowercase hex (64
  characters), in double quotes, with no `W/` in front. So `make_etag(b"")` is
  `"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`, quotes included.
- `is_not_modified(if_none_match, etag)` (keep this name) takes the value of the
  `If-None-Match` header (`None` when the request has none) and the current entity tag
  (always strong, as `make_etag` writes it), and returns `True` when the client already
  holds the current bytes, `False` otherwise (RFC 9110, section 13.1.2):
  - `*` (alone, spaces around it allowed) is `True`: the order exists.
  - Otherwise the header is a list of entity tags separated by commas, with optional spaces
    around each one; empty elements are skipped. It is `True` when one of them equals
    `etag` under the weak comparison: a tag written `W/"..."` counts as the same tag without
    its `W/` (only `W/` in capitals marks a weak tag). The text between the quotes is
    compared exactly (letter case counts), and a tag counts only with its double quotes.
  - So `None`, an empty header, other tags, the digest without quotes, `w/"..."`, `/"..."`,
    `W/W/"..."` and `"*"` (a tag whose text is a star) are all `False`.
  - Not graded: `*` together with other elements, tags that contain commas or spaces.
- `GET /orders/{order_id}`:
  - An unknown id answers 404 `{"detail": "Order not found"}` and no `ETag`, whatever the
    `If-None-Match` (`*` included).
  - The request's `Accept` header chooses the representation: exactly `text/csv` gets
    `render_csv(order)` as `text/csv; charset=utf-8`; any other value, or none, gets
    `render_json(order)` as `application/json`.
  - Every answer for an existing order carries `ETag: make_etag(<its representation's
    bytes>)` (so JSON and CSV of one order have different tags, and any change to the order
    gives a new tag), `Cache-Control: private, no-cache` and `Vary: Accept`, exactly these
    values.
  - When `is_not_modified(<If-None-Match>, <that ETag>)` is true, the answer is 304 with
    these three headers and no body; otherwise it is 200 with the representation's bytes.
    The content-type of the 304 is not graded.
"""

import csv
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
    # TODO: Return the SHA-256 hex digest of the body, in double quotes (a strong tag).
    return '""'


def is_not_modified(if_none_match: str | None, etag: str) -> bool:
    # TODO: Match `*` or any listed tag against etag with the weak comparison.
    return False


app = FastAPI()


@app.get("/orders/{order_id}")
async def read_order(
    order_id: int,
    orders: Orders,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    order = orders.get(order_id)
    if order is None:
        raise HTTPException(status_code=404, detail="Order not found")
    media_type = CSV if accept == CSV else JSON
    body = RENDERERS[media_type](order)
    # TODO: Read If-None-Match, and answer 304 with no body when the client's copy is current.
    # TODO: Send ETag, Cache-Control and Vary with every answer for an existing order.
    return Response(body, media_type=media_type)
