"""Hidden suite for 05_responses_streaming/04_conditional_get: ETag, If-None-Match and 304."""

import hashlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from workbook.testing import (
    Failure,
    client_for,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    provide,
)

JSON_TYPE, CSV_TYPE = "application/json", "text/csv; charset=utf-8"
CACHE_CONTROL = "private, no-cache"


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


# a strong tag as make_etag writes it, and another one
TAG, OTHER = etag_of(b"current"), etag_of(b"other")
DIGEST = TAG.strip('"')

ADA_JSON = b'{"id":7,"customer":"Lovelace, Ada","total":"12.50","note":null}'
ADA_CSV = b'id,customer,total,note\r\n7,"Lovelace, Ada",12.50,\r\n'

SHA256 = (
    "Is the tag the SHA-256 hex digest of the body's bytes (hashlib.sha256(body).hexdigest()), "
    "in double quotes, with no W/ in front?"
)
WEAK = (
    'If-None-Match compares weakly: does W/"x" count as the tag "x"? And is W/ (in '
    "capitals, once, right before the opening quote) the only text you remove? "
    'str.lstrip("W/") removes every leading W and /, str.replace("W/", "") every W/.'
)
WHOLE_TAGS = (
    "Is each listed tag compared whole, quotes included? A digest without its quotes, a "
    "tag with text after it, or a tag in other letter case is another tag."
)
LIST = (
    "Is If-None-Match split on commas, with the spaces around each tag stripped and every "
    "tag compared, not only the first?"
)
STAR = (
    "Is * (alone, perhaps with spaces around it) taken to match any current "
    'representation, and "*" in quotes taken as an ordinary tag?'
)
NOTHING = "Does a request without If-None-Match, or with an empty one, count as not holding a copy?"
FROM_BYTES = (
    "Is the ETag computed from the bytes actually sent? Each representation, and each "
    "version of the order, has its own bytes and so its own tag."
)
MISSING = (
    "Does every answer for an existing order carry the three headers: ETag (make_etag of "
    "the bytes sent), Cache-Control and Vary?"
)
NO_BODY = "A 304 has no body: is the route returning the representation with status 304?"
KEEP_HEADERS = (
    "A 304 stands in for the 200 it replaces: does it carry the same ETag, Cache-Control "
    "and Vary headers?"
)


def ada(exercise: Any, **changes: Any) -> Any:
    fields = {"id": 7, "customer": "Lovelace, Ada", "total": Decimal("12.50"), "note": None}
    return exercise.Order(**(fields | changes))


@pytest.fixture
def orders(exercise: Any) -> Any:
    """The orders GET /orders/{order_id} serves during one test: change them at will."""
    served = {7: ada(exercise)}
    app = exercise.app
    app.dependency_overrides[exercise.get_orders] = provide(served)
    yield served
    app.dependency_overrides.pop(exercise.get_orders, None)


@pytest.fixture
async def client(exercise: Any, orders: Any) -> AsyncIterator[Any]:
    async with client_for(exercise.app) as client:
        yield client


async def get(client: Any, order_id: int = 7, **headers: str) -> Any:
    names = {"accept": "Accept", "if_none_match": "If-None-Match"}
    return await client.get(
        f"/orders/{order_id}", headers={names[name]: value for name, value in headers.items()}
    )


def shown(value: Any) -> str:
    """repr() with the test digests named, so a message stays readable."""
    text = repr(value)
    return text.replace(DIGEST, "<digest>").replace(OTHER.strip('"'), "<other>")


def call(exercise: Any, name: str, *args: Any) -> Any:
    try:
        return getattr(exercise, name)(*args)
    except Exception as exc:
        arguments = ", ".join(shown(arg) for arg in args)
        raise Failure(
            f"{name}({arguments}) raised {type(exc).__name__}: {exc}",
            help=f"Does {name} handle every input the contract describes?",
        ) from None


def expect_representation(response: Any, body: bytes, content_type: str) -> None:
    expect_status(response, 200)
    expect_header(response, "content-type", content_type)
    expect_equal("body", body, response.content)
    expect_cache_headers(response, body)


def expect_cache_headers(response: Any, body: bytes, help: str | None = None) -> None:
    etag_help = help or (FROM_BYTES if "etag" in response.headers else MISSING)
    expect_header(response, "etag", etag_of(body), help=etag_help)
    expect_header(response, "cache-control", CACHE_CONTROL, help=help or MISSING)
    expect_header(response, "vary", "Accept", help=help or MISSING)


def expect_not_modified(response: Any, body: bytes) -> None:
    expect_status(
        response, 304, help="Does the route answer 304 when the client's copy is current?"
    )
    expect_equal("body of the 304", b"", response.content, help=NO_BODY)
    expect_cache_headers(response, body, help=KEEP_HEADERS)


# -- make_etag ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b'{"id":1}', b'{"id":1} ', ADA_JSON, ADA_CSV],
    ids=["empty", "small", "one-more-space", "json", "csv"],
)
def test_make_etag(exercise, body):
    """make_etag returns the SHA-256 hex digest of the bytes, in double quotes"""
    expect_equal(
        f"make_etag({body!r})", etag_of(body), call(exercise, "make_etag", body), help=SHA256
    )


# -- is_not_modified ---------------------------------------------------------------------

FALSE = pytest.mark.stub_may_pass("the stub answers False, which is right here")


def matching(header: str | None, expected: bool, name: str, help: str) -> Any:
    return pytest.param(header, expected, help, id=name, marks=[] if expected else [FALSE])


def expect_match(exercise: Any, header: str | None, expected: bool, help: str) -> None:
    actual = call(exercise, "is_not_modified", header, TAG)
    expect_equal(f"is_not_modified({shown(header)}, {shown(TAG)})", expected, actual, help=help)


@pytest.mark.parametrize(
    ("header", "expected", "help"),
    [
        matching(TAG, True, "same-tag", WHOLE_TAGS),
        matching(f"W/{TAG}", True, "weak-form", WEAK),
        matching(OTHER, False, "other-tag", WHOLE_TAGS),
        matching(f"W/{OTHER}", False, "other-weak-tag", WHOLE_TAGS),
        matching(f"  {TAG}\t", True, "spaces-around", LIST),
    ],
)
def test_one_tag(exercise, header, expected, help):
    """one tag matches when it is the current tag, in its strong or its weak form"""
    expect_match(exercise, header, expected, help)


@pytest.mark.parametrize(
    ("header", "expected", "help"),
    [
        matching(f"{OTHER}, {TAG}", True, "second-of-two", LIST),
        matching(f'"a",{TAG},"b"', True, "no-spaces", LIST),
        matching(f'"a" , W/{TAG} ,  "b"', True, "weak-among-others", LIST),
        matching(f'"a",, {TAG},', True, "empty-elements", LIST),
        matching(f'{OTHER}, W/"a", "b"', False, "none-of-three", WHOLE_TAGS),
    ],
)
def test_list_of_tags(exercise, header, expected, help):
    """a list matches when any of its tags matches"""
    expect_match(exercise, header, expected, help)


@pytest.mark.parametrize(
    ("header", "expected", "help"),
    [
        matching("*", True, "star", STAR),
        matching(" * ", True, "star-with-spaces", STAR),
        matching('"*"', False, "quoted-star", STAR),
    ],
)
def test_star(exercise, header, expected, help):
    """* matches any current representation, "*" is just a tag"""
    expect_match(exercise, header, expected, help)


@pytest.mark.parametrize(
    ("header", "expected", "help"),
    [
        matching(None, False, "no-header", NOTHING),
        matching("", False, "empty", NOTHING),
        matching(" , ", False, "only-a-comma", NOTHING),
        matching(DIGEST, False, "without-quotes", WHOLE_TAGS),
        matching(f"W/{DIGEST}", False, "weak-without-quotes", WHOLE_TAGS),
        matching(TAG.upper(), False, "upper-case", WHOLE_TAGS),
        matching(f"w/{TAG}", False, "lower-case-w", WEAK),
        matching(f"{TAG}x", False, "text-after", WHOLE_TAGS),
        matching(f'"x{DIGEST}"', False, "text-before", WHOLE_TAGS),
        matching(f"/{TAG}", False, "slash-without-w", WEAK),
        matching(f"WW/{TAG}", False, "two-ws", WEAK),
        matching(f"W/W/{TAG}", False, "weak-twice", WEAK),
        matching(f'"W/{DIGEST}"', False, "w-inside-the-quotes", WEAK),
    ],
)
def test_not_a_match(exercise, header, expected, help):
    """no header, an empty one, or a tag that is not written exactly like the current one"""
    expect_match(exercise, header, expected, help)


# -- GET /orders/{order_id}: 200 -----------------------------------------------------------


async def test_json_representation(client):
    """GET answers the order as JSON, with its ETag, Cache-Control and Vary"""
    response = await get(client)
    expect_representation(response, ADA_JSON, JSON_TYPE)


@pytest.mark.parametrize("accept", ["application/json", "*/*", "text/csv;q=0"])
async def test_json_for_any_other_accept(client, accept):
    """any Accept but exactly text/csv gets the JSON representation"""
    response = await get(client, accept=accept)
    expect_representation(response, ADA_JSON, JSON_TYPE)


async def test_csv_representation(client):
    """GET with Accept: text/csv answers the order as CSV, with its own ETag"""
    response = await get(client, accept="text/csv")
    expect_representation(response, ADA_CSV, CSV_TYPE)


@pytest.mark.parametrize(
    "header",
    [OTHER, f"W/{OTHER}, {OTHER}", DIGEST, f"w/{TAG}", '"*"', ""],
    ids=["other-tag", "other-tags", "without-quotes", "lower-case-w", "quoted-star", "empty"],
)
async def test_no_match_answers_200(client, header):
    """an If-None-Match that does not match gets the whole representation"""
    response = await get(client, if_none_match=header)
    expect_representation(response, ADA_JSON, JSON_TYPE)


# -- GET /orders/{order_id}: 304 -----------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "body"),
    [(None, ADA_JSON), ("text/csv", ADA_CSV)],
    ids=["json", "csv"],
)
@pytest.mark.parametrize(
    "form",
    ["{tag}", "W/{tag}", '"a", {tag}, "b"', "*"],
    ids=["strong", "weak", "in-a-list", "star"],
)
async def test_current_tag_answers_304(client, accept, body, form):
    """If-None-Match with the current tag answers 304, no body, the same three headers"""
    headers = {"if_none_match": form.format(tag=etag_of(body))}
    if accept is not None:
        headers["accept"] = accept
    response = await get(client, **headers)
    expect_not_modified(response, body)


async def test_tags_differ_between_representations(client):
    """the JSON tag does not match the CSV representation, nor the CSV tag the JSON one"""
    response = await get(client, accept="text/csv", if_none_match=etag_of(ADA_JSON))
    expect_status(response, 200, help=FROM_BYTES)
    expect_representation(response, ADA_CSV, CSV_TYPE)
    response = await get(client, if_none_match=etag_of(ADA_CSV))
    expect_status(response, 200, help=FROM_BYTES)
    expect_representation(response, ADA_JSON, JSON_TYPE)


@pytest.mark.parametrize(
    "changes",
    [
        {"customer": "Ada King"},
        {"total": Decimal("12.5")},
        {"note": "ring twice"},
        {"note": ""},
    ],
    ids=["customer", "total-written-otherwise", "note", "empty-note"],
)
async def test_a_changed_order_gets_a_new_tag(exercise, client, orders, changes):
    """once the order changes, the old tag gets a 200 with the new bytes, the new tag a 304"""
    old = etag_of(ADA_JSON)
    orders[7] = changed = ada(exercise, **changes)
    body = changed.model_dump_json().encode()
    response = await get(client, if_none_match=old)
    expect_status(response, 200, help=FROM_BYTES)
    expect_representation(response, body, JSON_TYPE)
    response = await get(client, if_none_match=etag_of(body))
    expect_not_modified(response, body)


# -- GET /orders/{order_id}: 404 -----------------------------------------------------------

NOT_FOUND = pytest.mark.stub_may_pass("the stub already answers 404 for an unknown order")


@NOT_FOUND
@pytest.mark.parametrize("header", [None, "*", etag_of(ADA_JSON)], ids=["none", "star", "tag"])
async def test_unknown_order(client, header):
    """an unknown order is a 404 without an ETag, whatever If-None-Match says"""
    response = await get(client, 8, **({} if header is None else {"if_none_match": header}))
    expect_status(response, 404, help="Is the order looked up before If-None-Match is checked?")
    expect_json(response, {"detail": "Order not found"})
    expect_header(response, "etag", None)


# -- the sample orders -------------------------------------------------------------------

SAMPLES = {
    1: b'{"id":1,"customer":"Ada Lovelace","total":"12.50","note":null}',
    2: b'{"id":2,"customer":"Hopper, Grace","total":"3.00","note":"ring twice"}',
}


async def test_sample_orders(exercise):
    """without an override, GET /orders/1 and /orders/2 serve the two sample orders of ORDERS"""
    async with client_for(exercise.app) as client:
        for order_id, body in SAMPLES.items():
            response = await get(client, order_id)
            expect_representation(response, body, JSON_TYPE)
        response = await get(client, 3)
        expect_status(response, 404)
