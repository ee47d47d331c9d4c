"""Hidden suite for 05_responses_streaming/02_fast_path: the response-model fast path."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import fastapi.encoders
import fastapi.routing
import pytest
from starlette.responses import JSONResponse

from workbook.testing import (
    Failure,
    client_for,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    provide,
)

ORIGINAL_ENCODER = fastapi.encoders.jsonable_encoder
ORIGINAL_RENDER = JSONResponse.render
ORIGINAL_SERIALIZE = fastapi.routing.serialize_response
KEEP = "the stub's output is already right: the rewrite must keep it byte for byte"

LAMP = b'{"sku":"LAMP-1","name":"Desk lamp","price":"39.90","updated_at":"2026-03-01T09:30:00Z"}'
MUG = (
    '{"sku":"MUG-2","name":"Café mug","price":"12.00","discount":"2.50",'
    '"updated_at":"2026-03-02T17:05:00Z"}'
).encode()
PEN = b'{"sku":"PEN-3","name":"Pen","price":"1.00","updated_at":"2026-01-31T23:59:59Z"}'
OLD_LAMP = (
    b'{"sku":"LAMP-1","name":"Lamp (old)","price":"9.00","updated_at":"2026-01-31T23:59:59Z"}'
)

ENCODER_CALLED = (
    "Does the route still call jsonable_encoder, or return data FastAPI cannot serialize "
    "with a declared type? Declare the return type and return the records themselves."
)
JSONRESPONSE = (
    "Is a JSONResponse still involved: returned by the route, or set as response_class "
    "on the route or the app? Either one takes FastAPI off its fast path."
)
NULL_DISCOUNT = (
    "Is `discount` written as null? The old code passed exclude_none=True: which option "
    "of the route decorator does the same for the declared type?"
)
OWN_RESPONSE = (
    "Does the route build a Response of its own? Then FastAPI neither checks nor writes "
    "the declared type: return the records themselves and let FastAPI serialize them."
)
IN_ORDER = (
    "Are the products served as get_catalog hands them out: every record, in its order, "
    "not sorted, and not one per sku?"
)
LEAKED = (
    "Does a private field get out? The declared type decides what is served: "
    "return the record and declare Product, and every other field is left out."
)


def record(exercise: Any, sku: str, name: str, price: str, **fields: Any) -> Any:
    fields.setdefault("updated_at", datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC))
    return exercise.StockRecord(
        sku=sku,
        name=name,
        price=Decimal(price),
        cost=Decimal("0.10"),
        supplier_email="secret@example.com",
        **fields,
    )


def sample(exercise: Any) -> list[Any]:
    return [
        record(
            exercise,
            "LAMP-1",
            "Desk lamp",
            "39.90",
            updated_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        ),
        record(
            exercise,
            "MUG-2",
            "Café mug",
            "12.00",
            discount=Decimal("2.50"),
            updated_at=datetime(2026, 3, 2, 17, 5, tzinfo=UTC),
        ),
        record(exercise, "PEN-3", "Pen", "1.00", discount=None),  # given, and still left out
    ]


def body_help(actual: bytes) -> str | None:
    if b'"discount":null' in actual:
        return NULL_DISCOUNT
    if b"supplier" in actual or b"cost" in actual or b"margin" in actual:
        return LEAKED
    return None


async def get(exercise: Any, path: str, catalog: list[Any] | None = None) -> Any:
    """GET ``path``, with get_catalog overridden to hand out ``catalog`` when one is given."""
    app = exercise.app
    if catalog is not None:
        app.dependency_overrides[exercise.get_catalog] = provide(catalog)
    try:
        async with client_for(app) as client:
            return await client.get(path)
    finally:
        app.dependency_overrides.pop(exercise.get_catalog, None)


def expect_body(response: Any, expected: bytes) -> None:
    expect_status(response, 200)
    expect_header(response, "content-type", "application/json")
    expect_equal("body", expected, response.content, help=body_help(response.content))


@pytest.fixture
def counters(exercise, monkeypatch):
    """Count jsonable_encoder calls (FastAPI's and the module's) and JSONResponse renders."""
    counts = {"jsonable_encoder": 0, "JSONResponse.render": 0}
    depth = [0]

    def counting_encoder(*args: Any, **kwargs: Any) -> Any:
        # jsonable_encoder calls itself for every nested value: count the outermost calls
        counts["jsonable_encoder"] += depth[0] == 0
        depth[0] += 1
        try:
            return ORIGINAL_ENCODER(*args, **kwargs)
        finally:
            depth[0] -= 1

    def counting_render(self: Any, content: Any) -> bytes:
        counts["JSONResponse.render"] += 1
        return ORIGINAL_RENDER(self, content)

    monkeypatch.setattr(fastapi.encoders, "jsonable_encoder", counting_encoder)
    monkeypatch.setattr(fastapi.routing, "jsonable_encoder", counting_encoder)
    for name, value in list(vars(exercise).items()):
        if value is ORIGINAL_ENCODER:
            monkeypatch.setattr(exercise, name, counting_encoder)
    monkeypatch.setattr(JSONResponse, "render", counting_render)
    return counts


@pytest.fixture
def fast_path(monkeypatch):
    """Count FastAPI's serializations of a returned value straight to JSON bytes."""
    counts = {"fast path": 0}

    async def counting_serialize(*args: Any, **kwargs: Any) -> Any:
        counts["fast path"] += bool(kwargs.get("dump_json"))
        return await ORIGINAL_SERIALIZE(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "serialize_response", counting_serialize)
    return counts


# -- the same bytes as before ------------------------------------------------------------


@pytest.mark.stub_may_pass(KEEP)
async def test_list_bytes(exercise):
    """GET /products is the products in order, each with Product's fields only"""
    response = await get(exercise, "/products", sample(exercise))
    expect_body(response, b"[" + b",".join([LAMP, MUG, PEN]) + b"]")


@pytest.mark.stub_may_pass(KEEP)
@pytest.mark.parametrize("shape", ["unsorted", "duplicate-skus"])
async def test_list_keeps_every_record_in_order(exercise, shape):
    """GET /products serves every record, in the order get_catalog returns them"""
    lamp, mug, pen = sample(exercise)
    if shape == "unsorted":
        catalog, expected = [pen, lamp, mug], [PEN, LAMP, MUG]
    else:
        old = record(exercise, "LAMP-1", "Lamp (old)", "9.00")
        catalog, expected = [lamp, mug, old], [LAMP, MUG, OLD_LAMP]
    response = await get(exercise, "/products", catalog)
    expect_status(response, 200)
    expected_body = b"[" + b",".join(expected) + b"]"
    expect_equal("body", expected_body, response.content, help=IN_ORDER)


@pytest.mark.stub_may_pass(KEEP)
async def test_sample_catalog(exercise):
    """without an override, GET /products serves the two sample records of CATALOG"""
    response = await get(exercise, "/products")
    expect_body(response, b"[" + LAMP + b"," + MUG + b"]")


@pytest.mark.stub_may_pass(KEEP)
async def test_empty_list(exercise):
    """GET /products with no records is []"""
    response = await get(exercise, "/products", [])
    expect_body(response, b"[]")


@pytest.mark.stub_may_pass(KEEP)
@pytest.mark.parametrize(
    ("sku", "expected"), [("MUG-2", MUG), ("PEN-3", PEN)], ids=["MUG-2", "PEN-3"]
)
async def test_product_bytes(exercise, sku, expected):
    """GET /products/{sku} is that product, with Product's fields only"""
    response = await get(exercise, f"/products/{sku}", sample(exercise))
    expect_body(response, expected)


@pytest.mark.stub_may_pass(KEEP)
async def test_first_record_wins(exercise):
    """GET /products/{sku} serves the first record with that sku"""
    twins = [
        record(exercise, "PEN-3", "Pen", "1.00"),
        record(exercise, "PEN-3", "Pen (old)", "2.00"),
    ]
    response = await get(exercise, "/products/PEN-3", twins)
    expect_body(response, PEN)


@pytest.mark.stub_may_pass(KEEP)
@pytest.mark.parametrize("sku", ["NOPE-9", "pen-3", "PEN-"])
async def test_unknown_sku(exercise, sku):
    """GET /products/{sku} for an unknown sku is 404 Product not found"""
    response = await get(exercise, f"/products/{sku}", sample(exercise))
    expect_status(response, 404)
    expect_json(response, {"detail": "Product not found"})


async def test_subclass_fields_left_out(exercise):
    """a field that a subclass of StockRecord adds is not served either"""

    class Marked(exercise.StockRecord):
        margin: Decimal

    base = record(exercise, "PEN-3", "Pen", "1.00")
    marked = Marked(**base.model_dump(), margin=Decimal("0.90"))
    response = await get(exercise, "/products", [marked])
    expect_body(response, b"[" + PEN + b"]")
    response = await get(exercise, "/products/PEN-3", [marked])
    expect_body(response, PEN)


# -- the fast path -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/products", "/products/MUG-2"])
async def test_no_jsonable_encoder(exercise, counters, path):
    """a 200 from the route never calls jsonable_encoder"""
    response = await get(exercise, path, sample(exercise))
    expect_status(response, 200)
    expect_equal("jsonable_encoder calls", 0, counters["jsonable_encoder"], help=ENCODER_CALLED)


@pytest.mark.parametrize("path", ["/products", "/products/MUG-2"])
async def test_no_json_response(exercise, counters, path):
    """a 200 from the route is not rendered by a JSONResponse"""
    response = await get(exercise, path, sample(exercise))
    expect_status(response, 200)
    expect_equal("JSONResponse renders", 0, counters["JSONResponse.render"], help=JSONRESPONSE)


@pytest.mark.parametrize("path", ["/products", "/products/MUG-2"])
async def test_fastapi_writes_the_returned_data(exercise, fast_path, path):
    """a 200 is written by FastAPI from the data the route returns, not by a Response of its own"""
    response = await get(exercise, path, sample(exercise))
    expect_status(response, 200)
    serialized = fast_path["fast path"]
    expect_equal("serializations of the returned data by FastAPI", 1, serialized, help=OWN_RESPONSE)


# -- the OpenAPI document ----------------------------------------------------------------


def schema_of(exercise: Any, path: str) -> Any:
    document = exercise.app.openapi()
    operation = document.get("paths", {}).get(path, {}).get("get")
    if operation is None:
        raise Failure(f"expected GET {path} in the OpenAPI document, not missing")
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    return content.get("application/json", {}).get("schema")


DECLARE = "Does the route declare its return type? FastAPI documents what it declares."


def test_list_is_documented(exercise):
    """the OpenAPI document says GET /products answers an array of Product"""
    schema = schema_of(exercise, "/products") or {}
    found = {"type": schema.get("type"), "items": schema.get("items")}
    expected = {"type": "array", "items": {"$ref": "#/components/schemas/Product"}}
    expect_equal("schema", expected, found, help=DECLARE)


def test_product_is_documented(exercise):
    """the OpenAPI document says GET /products/{sku} answers a Product"""
    schema = schema_of(exercise, "/products/{sku}")
    expect_equal("schema", {"$ref": "#/components/schemas/Product"}, schema, help=DECLARE)


def test_product_schema_has_public_fields(exercise):
    """the Product schema lists sku, name, price, discount and updated_at, nothing else"""
    schemas = exercise.app.openapi().get("components", {}).get("schemas", {})
    properties = schemas.get("Product", {}).get("properties", {})
    expect_equal(
        "Product properties",
        ["discount", "name", "price", "sku", "updated_at"],
        sorted(properties),
        help=DECLARE,
    )
