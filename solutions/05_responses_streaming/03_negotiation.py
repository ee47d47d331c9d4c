"""Content negotiation: one list of orders in three formats, chosen from Accept."""

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated
from xml.etree import ElementTree

from fastapi import FastAPI, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter

# the server's order of preference: it breaks ties between equal q-values
SUPPORTED = ("application/json", "text/csv", "application/xml")
VARY = {"Vary": "Accept"}


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


def parse_accept(header: str) -> Iterator[tuple[str, str, float]]:
    """(type, subtype, q) of each well-formed media range; a range with a bad q is skipped."""
    for element in header.split(","):
        media_range, *params = (piece.strip() for piece in element.split(";"))
        type_, _, subtype = media_range.lower().partition("/")
        if type_ == "*" and subtype != "*":
            continue  # "*/json" is no media range (other malformed ranges match nothing)
        named = {name.lower(): value for name, _, value in (p.partition("=") for p in params)}
        try:
            q = float(named.get("q", 1))
        except ValueError:
            continue
        if 0 <= q <= 1:
            yield type_, subtype, q


def choose_media_type(accept: str | None) -> str | None:
    if not accept or accept.isspace():
        return SUPPORTED[0]
    ranges = list(parse_accept(accept))

    def quality(media_type: str) -> float:
        type_, _, subtype = media_type.partition("/")
        matches = [
            ((t != "*") + (s != "*"), q)
            for t, s, q in ranges
            if t in ("*", type_) and s in ("*", subtype)
        ]
        # the most specific matching range decides, even when a wildcard has a higher q
        return max(matches)[1] if matches else 0.0

    best = max(SUPPORTED, key=quality)  # the first of equal qualities: the server's order
    return best if quality(best) else None


app = FastAPI()


@app.get(
    "/orders",
    response_model=list[Order],
    responses={
        200: {"content": {"text/csv": {}, "application/xml": {}}},
        406: {"description": "None of the media types in Accept is available"},
    },
)
async def list_orders(accept: Annotated[str | None, Header()] = None) -> Response:
    media_type = choose_media_type(accept)
    if media_type is None:
        body = {"detail": "Not Acceptable", "supported": list(SUPPORTED)}
        return JSONResponse(body, status_code=406, headers=VARY)
    return Response(RENDERERS[media_type](ORDERS), media_type=media_type, headers=VARY)
