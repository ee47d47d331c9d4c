"""Hidden suite for 05_responses_streaming/01_export_formats: CSV and JSON Lines, byte for byte."""

from decimal import Decimal
from typing import Any

import pytest

from workbook.testing import (
    Failure,
    client_for,
    expect_equal,
    expect_header,
    expect_status,
    provide,
)

HEADER = b"id,customer,total,note\r\n"

NOT_RENDERED = "Does CSVResponse override render() to write the rows with the csv module?"
LINE_ENDS = (
    "Does every row end with \\r\\n, the last one too? That is csv.writer's default "
    "line terminator: is something replacing it?"
)
QUOTING = (
    "Are values with a comma, a double quote or a line break quoted, and the quotes inside "
    "doubled? csv.writer's default (minimal) quoting does it; joining with ',' does not."
)
JSON_DUMPS = (
    "Were the lines written by json.dumps? Without an item type, FastAPI encodes each item "
    "with jsonable_encoder and json.dumps (spaces, \\u escapes): annotate the generator "
    "with AsyncIterator[Order] so Pydantic writes each line."
)
LAST_NEWLINE = "Does every line end with \\n, the last one too?"
NOTE_LEFT_OUT = (
    "Is a note left out of a line? Every line has all four keys, a missing note as null: "
    "does the route set an exclude option (response_model_exclude_unset, ...)?"
)
FALSY = (
    'Is every falsy value turned into an empty field (value or "")? Only None is: '
    "0 is written as 0, 0.00 as 0.00 and False as False."
)
JSONL_TYPE = "FastAPI's own media type for JSON Lines is application/jsonl."


def csv_help(expected: bytes, actual: bytes) -> str | None:
    if actual.replace(b"\r\n", b"\n") == expected.replace(b"\r\n", b"\n"):
        return LINE_ENDS
    if actual.replace(b'"', b"") != expected.replace(b'"', b""):
        return None
    return QUOTING


def jsonl_help(actual: bytes) -> str | None:
    if b'": ' in actual or b"\\u00" in actual:
        return JSON_DUMPS
    if actual and not actual.endswith(b"\n"):
        return LAST_NEWLINE
    if actual.count(b'"note":') < actual.count(b'"id":'):
        return NOTE_LEFT_OUT
    return None


def render(exercise: Any, rows: Any) -> Any:
    try:
        return exercise.CSVResponse(rows)
    except Exception as exc:
        raise Failure(
            f"CSVResponse(rows) raised {type(exc).__name__}: {exc}", help=NOT_RENDERED
        ) from None


def orders(exercise: Any) -> list[Any]:
    order = exercise.Order
    return [
        order(id=7, customer="Lovelace, Ada", total=Decimal("12.50"), note='said "ring twice"'),
        order(id=3, customer="Zoë Ørsted", total=Decimal("3"), note=None),
        order(id=12, customer="Grace Hopper", total=Decimal("0.99"), note="line 1\nline 2"),
        order(id=5, customer=" Alan ", total=Decimal("100.00"), note=""),
        order(id=4, customer="Free sample", total=Decimal("0.00")),  # no note given
    ]


CSV_EXPORT = (
    HEADER
    + b'7,"Lovelace, Ada",12.50,"said ""ring twice"""\r\n'
    + "3,Zoë Ørsted,3,\r\n".encode()
    + b'12,Grace Hopper,0.99,"line 1\nline 2"\r\n'
    + b"5, Alan ,100.00,\r\n"
    + b"4,Free sample,0.00,\r\n"
)
JSONL_EXPORT = (
    b'{"id":7,"customer":"Lovelace, Ada","total":"12.50","note":"said \\"ring twice\\""}\n'
    + '{"id":3,"customer":"Zoë Ørsted","total":"3","note":null}\n'.encode()
    + b'{"id":12,"customer":"Grace Hopper","total":"0.99","note":"line 1\\nline 2"}\n'
    + b'{"id":5,"customer":" Alan ","total":"100.00","note":""}\n'
    + b'{"id":4,"customer":"Free sample","total":"0.00","note":null}\n'
)


async def export(exercise: Any, path: str, served: list[Any]) -> Any:
    """GET the export with get_orders overridden to hand out ``served``."""
    app = exercise.app
    app.dependency_overrides[exercise.get_orders] = provide(served)
    try:
        async with client_for(app) as client:
            return await client.get(path)
    finally:
        app.dependency_overrides.pop(exercise.get_orders, None)


# -- CSVResponse on its own --------------------------------------------------------------


def test_csv_response_content_type(exercise):
    """a CSVResponse is served as text/csv; charset=utf-8"""
    response = render(exercise, [["a", "b"]])
    expect_equal("content-type", "text/csv; charset=utf-8", response.headers.get("content-type"))


@pytest.mark.parametrize(
    ("rows", "body"),
    [
        ([["id", "name"], [1, "Ada"]], b"id,name\r\n1,Ada\r\n"),
        ([["x,y", "z"]], b'"x,y",z\r\n'),
        ([['say "hi"', '"']], b'"say ""hi""",""""\r\n'),
        ([["line 1\nline 2", "z"]], b'"line 1\nline 2",z\r\n'),
        ([["a\rb", "z"]], b'"a\rb",z\r\n'),
        ([["a;b", "c\td", "e'f"]], b"a;b,c\td,e'f\r\n"),
        ([[" padded ", "x"]], b" padded ,x\r\n"),
        ([[None, ""], ["", None]], b",\r\n,\r\n"),
        ([[1, Decimal("2.50"), 3.5, True]], b"1,2.50,3.5,True\r\n"),
        ([["Zoë", "Łódź"]], "Zoë,Łódź\r\n".encode()),
        ([("a", "b"), ("c", "d")], b"a,b\r\nc,d\r\n"),
    ],
    ids=[
        "plain",
        "comma",
        "quotes",
        "newline",
        "carriage-return",
        "other-punctuation",
        "spaces",
        "none-and-empty",
        "numbers",
        "utf-8",
        "tuples",
    ],
)
def test_csv_response_writes_rows(exercise, rows, body):
    """CSVResponse writes each row as a CSV line ending in \\r\\n, quoting only where needed"""
    actual = bytes(render(exercise, rows).body)
    expect_equal("body", body, actual, help=csv_help(body, actual))


def test_csv_response_writes_falsy_values(exercise):
    """a CSVResponse writes 0 and False as they are: only None is an empty field"""
    body = b"0,0.00,False,0.0,\r\n"
    actual = bytes(render(exercise, [[0, Decimal("0.00"), False, 0.0, None]]).body)
    expect_equal("body", body, actual, help=FALSY if actual.startswith(b",") else None)


def test_csv_response_without_rows_is_empty(exercise):
    """a CSVResponse of no rows has an empty body"""
    response = render(exercise, [])
    expect_equal("body", b"", bytes(response.body))


# -- GET /orders.csv ---------------------------------------------------------------------


async def test_csv_export_bytes(exercise):
    """GET /orders.csv is the header row, then one row per order, in the order given"""
    response = await export(exercise, "/orders.csv", orders(exercise))
    expect_status(response, 200)
    expect_header(response, "content-type", "text/csv; charset=utf-8")
    expect_equal("body", CSV_EXPORT, response.content, help=csv_help(CSV_EXPORT, response.content))


async def test_csv_export_of_the_sample_orders(exercise):
    """without an override, GET /orders.csv exports the two sample orders of ORDERS"""
    async with client_for(exercise.app) as client:
        response = await client.get("/orders.csv")
    expect_status(response, 200)
    expected = HEADER + b"1,Ada Lovelace,12.50,\r\n" + b"2,Grace Hopper,3.00,leave at the door\r\n"
    expect_equal("body", expected, response.content, help=csv_help(expected, response.content))


async def test_csv_export_without_orders(exercise):
    """GET /orders.csv with no orders is the header row alone"""
    response = await export(exercise, "/orders.csv", [])
    expect_status(response, 200)
    expect_header(response, "content-type", "text/csv; charset=utf-8")
    expect_equal(
        "body",
        HEADER,
        response.content,
        help="Is the header row written from the model's fields, even when there is no order?",
    )


# -- GET /orders.jsonl -------------------------------------------------------------------


async def test_jsonl_export_bytes(exercise):
    """GET /orders.jsonl is one compact JSON object per order, each line ending in \\n"""
    response = await export(exercise, "/orders.jsonl", orders(exercise))
    expect_status(response, 200)
    expect_header(response, "content-type", "application/jsonl", help=JSONL_TYPE)
    expect_equal("body", JSONL_EXPORT, response.content, help=jsonl_help(response.content))


async def test_jsonl_export_of_the_sample_orders(exercise):
    """without an override, GET /orders.jsonl exports the two sample orders of ORDERS"""
    async with client_for(exercise.app) as client:
        response = await client.get("/orders.jsonl")
    expect_status(response, 200)
    expect_header(response, "content-type", "application/jsonl", help=JSONL_TYPE)
    expected = (
        b'{"id":1,"customer":"Ada Lovelace","total":"12.50","note":null}\n'
        b'{"id":2,"customer":"Grace Hopper","total":"3.00","note":"leave at the door"}\n'
    )
    expect_equal("body", expected, response.content, help=jsonl_help(response.content))


async def test_jsonl_export_without_orders(exercise):
    """GET /orders.jsonl with no orders is an empty body, still application/jsonl"""
    response = await export(exercise, "/orders.jsonl", [])
    expect_status(response, 200)
    expect_header(response, "content-type", "application/jsonl", help=JSONL_TYPE)
    expect_equal("body", b"", response.content)


# -- the OpenAPI document ----------------------------------------------------------------


def content_of(exercise: Any, path: str) -> dict[str, Any]:
    document = exercise.app.openapi()
    operation = document.get("paths", {}).get(path, {}).get("get")
    if operation is None:
        raise Failure(f"expected GET {path} in the OpenAPI document, not missing")
    return operation.get("responses", {}).get("200", {}).get("content", {})


def test_csv_export_is_documented_as_csv(exercise):
    """the OpenAPI document gives text/csv, and only it, for GET /orders.csv"""
    content = content_of(exercise, "/orders.csv")
    expect_equal(
        "media types",
        ["text/csv"],
        sorted(content),
        help="Does the route declare response_class=CSVResponse?",
    )


def test_jsonl_export_is_documented_with_its_items(exercise):
    """the OpenAPI document gives application/jsonl with Order as the schema of each line"""
    content = content_of(exercise, "/orders.jsonl")
    expect_equal("media types", ["application/jsonl"], sorted(content))
    item = content["application/jsonl"].get("itemSchema")
    expect_equal(
        "itemSchema",
        {"$ref": "#/components/schemas/Order"},
        item,
        help="Does the generator declare its item type, AsyncIterator[Order]?",
    )
