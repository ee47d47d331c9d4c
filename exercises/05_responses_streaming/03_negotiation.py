"""Content negotiation: one list of orders in three formats, chosen from Accept.

Task: `GET /orders` can serve the same orders as JSON, CSV or XML, but it always answers
JSON. Choose the format from the request's `Accept` header as RFC 9110 describes it, answer
406 when no format is acceptable, and tell caches that the answer depends on `Accept`.

The contract (the checks rely on it):
- `SUPPORTED`, `Order`, `ORDERS`, the three `render_*` functions, `RENDERERS` and `app`
  (keep these names) stay as they are: they write each format's bytes.
- `choose_media_type(accept)` (keep this name) takes the value of the `Accept` header, or
  `None` when the request has none, and returns the media type to serve (one of
  `SUPPORTED`), or `None` when none is acceptable:
  - No header, an empty one or one of only spaces means `"application/json"`.
  - The header is a list of media ranges separated by commas, each one optionally followed
    by parameters after `;`, with optional spaces around the commas, the semicolons and
    the range. Empty elements are skipped (`text/csv,,`).
  - A range is `*/*`, `type/*` or `type/subtype`, compared without regard to case
    (`TEXT/CSV` is `text/csv`). `*/*` matches all three types, `text/*` matches `text/csv`,
    `application/*` matches `application/json` and `application/xml`, and `type/subtype`
    matches that type only (`application/jsonl` does not match `application/json`).
    Anything else (`json`, `*/json`, `*`, `text/`) matches nothing.
  - The parameter `q` (named `q` or `Q`) weighs a range: a decimal number from 0 to 1
    (`0`, `0.5`, `0.001`, `1`, `1.000`); without it the weight is 1. A range whose `q` is
    anything else (`abc`, `1.5`, `-1`, empty) is ignored as if it were not there. Other
    parameters change nothing (`text/csv;charset=utf-8` is `text/csv`).
  - The quality of a supported type is the `q` of the most specific range that matches it:
    `type/subtype` beats `type/*`, which beats `*/*`, whatever their `q`. So with
    `*/*, application/json;q=0.1` JSON has quality 0.1 and the two others 1. A type that no
    range matches has quality 0.
  - The type of highest quality wins; between equal qualities the server's order decides
    (JSON, then CSV, then XML), whatever the order in the header. When every type has
    quality 0 (`q=0` means "not acceptable"), the answer is `None`.
  - Not graded: a range or a parameter written twice, `q` in other notations (`.5`, `1e-3`,
    `+0.5`) or with more than three decimals (`0.5001`, which RFC 9110 does not allow),
    spaces around `=`, quoted parameter values.
- `GET /orders` answers with `choose_media_type` of the request's `Accept` header:
  - 200 with the body `RENDERERS[media_type](ORDERS)` and the `content-type` of that type:
    `application/json`, `text/csv; charset=utf-8` or `application/xml`;
  - 406 when there is none, as `application/json` with the body
    `{"detail": "Not Acceptable", "supported": ["application/json", "text/csv",
    "application/xml"]}`;
  - every answer, the 406 too, has the header `Vary: Accept` (exactly that value).
- The OpenAPI document lists exactly the three media types under the 200 response of
  `GET /orders`, `application/json` with the schema of a list of `Order` (an array whose
  items are `#/components/schemas/Order`), and it lists a 406 response.
"""

import csv
import io
from decimal import Decimal
from typing import Annotated
from xml.etree import ElementTree

from fastapi import FastAPI, Header, Response
from pydantic import BaseModel, TypeAdapter

# the server's order of preference: it breaks ties between equal q-values
SUPPORTED = ("application/json", "text/csv", "application/xml")


class Order(BaseModel):
    id: int
    customer: str
    total: Decimal
    note: str | None = None


ORDERS = [
    Order(id=1, customer="Ada Lovelace", total=Decimal("12.50")),
    Order(id=2, customer="Hopper, Grace", total=Decimal("3.00"), note="ring twice"),
    Order(id=3, customer="Alan Turing", total=Decimal("0.99"), note=""),
]


def render_json(orders: list[Order]) -> bytes:
    return TypeAdapter(list[Order]).dump_json(orders)


def render_csv(orders: list[Order]) -> bytes:
    buffer = io.StringIO()
    rows = [list(Order.model_fields), *(order.model_dump().values() for order in orders)]
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def render_xml(orders: list[Order]) -> bytes:
    root = ElementTree.Element("orders")
    for order in orders:
        element = ElementTree.SubElement(root, "order")
        for name, value in order.model_dump(mode="json", exclude_none=True).items():
            ElementTree.SubElement(element, name).text = str(value)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


RENDERERS = {"application/json": render_json, "text/csv": render_csv, "application/xml": render_xml}


def choose_media_type(accept: str | None) -> str | None:
    # TODO: Parse the Accept header as the contract says and return the media type to serve.
    return SUPPORTED[0]


app = FastAPI()


# TODO: Document the CSV and XML media types of the 200 response and the 406 response.
@app.get("/orders")
async def list_orders(accept: Annotated[str | None, Header()] = None) -> Response:
    media_type = choose_media_type(accept)
    # TODO: Answer 406 when nothing is acceptable, and send Vary: Accept with every answer.
    return Response(RENDERERS[media_type](ORDERS), media_type=media_type)
