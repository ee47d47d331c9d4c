"""Hidden suite for 08_openapi_customization/03_documented_responses: a truthful document."""

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import openapi_spec_validator  # noqa: F401  (seconds to import: at collection, not in a check)
import pytest
from openapi_schema_validator import OAS31Validator
from referencing.exceptions import Unresolvable

from workbook.openapi_checks import dangling_ref, expect_valid_openapi, fetch_document
from workbook.testing import (
    Failure,
    client_for,
    expect_equal,
    expect_json,
    expect_status,
)

PROBLEM_JSON = "application/problem+json"
BUY = ("post", "/concerts/{concert_id}/tickets")
POSTER = ("put", "/concerts/{concert_id}/poster")
STATUSES = {BUY: ["201", "404", "409", "422"], POSTER: ["200", "404", "415", "422"]}
ERRORS = {
    (BUY, "404"): "No concert has this id",
    (BUY, "409"): "Not enough seats left",
    (POSTER, "404"): "No concert has this id",
    (POSTER, "415"): "The poster is not a PNG or JPEG image",
}
ORDER_EXAMPLES = {
    "one": {"summary": "One seat", "value": {"holder": "Ada", "seats": 1}},
    "group": {
        "summary": "A group of four",
        "description": "Up to the seats left: a larger order is refused whole.",
        "value": {"holder": "Grace", "seats": 4},
    },
}
TICKET_EXAMPLES = [{"concert_id": "c-1", "holder": "Ada", "seats": 2, "total": "90.00"}]
POSTER_BODY = {"required": True, "content": {"image/png": {}, "image/jpeg": {}}}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)
NEAR_MISSES = ["image/png; name=poster.png", "IMAGE/JPEG"]  # not exactly a poster type: 415
NO_CONCERT = {
    "type": "about:blank",
    "title": "Unknown concert",
    "status": 404,
    "detail": "No concert has the id c-9.",
}
UNSUPPORTED = {
    "type": "about:blank",
    "title": "Unsupported poster",
    "status": 415,
    "detail": "Send a PNG or JPEG image.",
}


def sold_out(left: int) -> dict[str, Any]:
    detail = f"Only {left} seats are left."
    return {"type": "about:blank", "title": "Sold out", "status": 409, "detail": detail}


NOT_BUILT = "FastAPI could not build the document: GET /openapi.json failed."
INVALID = "The validator names the member it refuses: which argument or route wrote it?"
UNDOCUMENTED = "Is every error answer of the route listed in its responses={...}?"
MODEL_UNDER_JSON = (
    'responses={404: {"model": Problem}} files the schema under the route\'s media type, '
    "application/json, which no error is sent with: write the answer's content yourself, "
    "under application/problem+json."
)
PROBLEM_SCHEMA = (
    "Is the schema Problem.model_json_schema(), inline or as a $ref to a copy of it in "
    "components.schemas?"
)
DOES_NOT_FIT = "The document promises something the service does not send: which part of it?"
NAMED_EXAMPLES = (
    "Named examples (summary, description, value) belong to the request body's media type: "
    "Body(openapi_examples={...}). Body(examples=[...]) puts a plain list into the schema."
)
MODEL_EXAMPLES = (
    "Are the examples in the model's own JSON schema, e.g. model_config = "
    'ConfigDict(json_schema_extra={"examples": [...]})?'
)
AS_SENT = (
    "With separate_input_output_schemas=False, FastAPI documents answers with the schema of "
    "what a model accepts, where total may be a number: is that setting still there?"
)
RAW_BODY = (
    "FastAPI cannot see a body the route reads by hand: document it with "
    'openapi_extra={"requestBody": ...}, exactly as the contract writes it.'
)
STILL_SERVED = "The routes are given: was one changed?"
DANGLING = (
    "A $ref points to a schema by its place in the document: is that schema really in "
    "components.schemas? Writing the Problem schema inline needs no $ref."
)
NO_NEW_RULES = (
    "The route checks the Content-Type as it was: exactly image/png or image/jpeg. Does it "
    "now cut off parameters or change the case?"
)


def operation(document: dict[str, Any], key: tuple[str, str]) -> dict[str, Any]:
    method, path = key
    found = document.get("paths", {}).get(path, {}).get(method)
    if found is None:
        raise Failure(f"expected the operation {method.upper()} {path} in the document")
    return found


def documented(document: dict[str, Any], key: tuple[str, str], status: str) -> dict[str, Any]:
    """The Response Object documented for ``status``, or a failure saying it is missing."""
    response = operation(document, key).get("responses", {}).get(status)
    if response is None:
        name = f"{key[0].upper()} {key[1]}"
        raise Failure(f"expected the answer {status} of {name} to be documented", help=UNDOCUMENTED)
    return response


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema, or the component its $ref points to."""
    ref = schema.get("$ref", "")
    prefix = "#/components/schemas/"
    if not ref:
        return schema
    name = ref.removeprefix(prefix)
    target = document.get("components", {}).get("schemas", {}).get(name)
    if not ref.startswith(prefix) or target is None:
        raise Failure(f"expected {ref!r} to point to a schema in components.schemas", help=DANGLING)
    return target


def schema_errors(document: dict[str, Any], schema: dict[str, Any], body: Any) -> list[str]:
    """Why ``body`` does not fit ``schema``, whose $refs point into the document."""
    validator = OAS31Validator({**schema, "components": document.get("components", {})})
    try:
        return [error.message for error in validator.iter_errors(body)]
    except Unresolvable as exc:
        raise dangling_ref(exc, help=DANGLING) from None


def ticket_schema(document: dict[str, Any]) -> dict[str, Any]:
    content = documented(document, BUY, "201").get("content", {})
    return resolve(document, content.get("application/json", {}).get("schema", {}))


@pytest.fixture
async def document(exercise: ModuleType) -> dict[str, Any]:
    return await fetch_document(exercise.app, help=NOT_BUILT)


@pytest.fixture(autouse=True)
def seats(exercise: ModuleType) -> Iterator[dict[str, int]]:
    """The exercise's SEATS_LEFT, restored after each check (buying changes it)."""
    saved = dict(exercise.SEATS_LEFT)
    yield exercise.SEATS_LEFT
    exercise.SEATS_LEFT.clear()
    exercise.SEATS_LEFT.update(saved)


async def buy(app: Any, concert_id: str, order: Any) -> httpx.Response:
    async with client_for(app) as client:
        return await client.post(f"/concerts/{concert_id}/tickets", json=order)


async def upload(app: Any, concert_id: str, content_type: str | None) -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    async with client_for(app) as client:
        return await client.put(f"/concerts/{concert_id}/poster", content=PNG, headers=headers)


# -- the document ---------------------------------------------------------------------------


@pytest.mark.stub_may_pass("FastAPI's own document for the stub is valid OpenAPI 3.1")
def test_document_is_valid_openapi(document):
    """the document is valid OpenAPI 3.1"""
    expect_valid_openapi(document, help=INVALID, dangling=DANGLING)


@pytest.mark.parametrize("key", list(STATUSES), ids=["buy", "poster"])
def test_documented_statuses(document, key):
    """each operation documents exactly its answers, by status"""
    responses = operation(document, key).get("responses", {})
    expect_equal(
        f"documented answers of {key[0].upper()} {key[1]}",
        STATUSES[key],
        sorted(responses),
        help=UNDOCUMENTED,
    )


@pytest.mark.parametrize(
    ("key", "status"), list(ERRORS), ids=["buy-404", "buy-409", "poster-404", "poster-415"]
)
def test_error_is_documented_as_a_problem(exercise, document, key, status):
    """each error answer is documented under application/problem+json with the Problem schema"""
    response = documented(document, key, status)
    content = response.get("content", {})
    help = MODEL_UNDER_JSON if "application/json" in content else None
    expect_equal(f"media types of the {status} answer", [PROBLEM_JSON], sorted(content), help=help)
    schema = resolve(document, content[PROBLEM_JSON].get("schema", {}))
    expected = exercise.Problem.model_json_schema()
    expect_equal(f"schema of the {status} answer", expected, schema, help=PROBLEM_SCHEMA)


@pytest.mark.parametrize(
    ("key", "status"), list(ERRORS), ids=["buy-404", "buy-409", "poster-404", "poster-415"]
)
def test_error_description(document, key, status):
    """each error answer has exactly its description"""
    description = documented(document, key, status).get("description")
    expect_equal(f"description of the {status} answer", ERRORS[key, status], description)


def test_named_request_examples(document):
    """the order has the two named examples, under application/json"""
    body = operation(document, BUY).get("requestBody", {})
    examples = body.get("content", {}).get("application/json", {}).get("examples")
    expect_equal("named examples of the order", ORDER_EXAMPLES, examples, help=NAMED_EXAMPLES)


def test_ticket_schema_has_its_example(document):
    """the Ticket schema of the 201 answer has its examples"""
    examples = ticket_schema(document).get("examples")
    expect_equal("examples of the 201 schema", TICKET_EXAMPLES, examples, help=MODEL_EXAMPLES)


def test_answers_documented_as_sent(exercise, document):
    """the 201 schema describes the ticket as it is sent: total is a string"""
    schema = ticket_schema(document)
    sent = exercise.Ticket.model_json_schema(mode="serialization")
    actual = {"properties": schema.get("properties"), "required": schema.get("required")}
    expected = {"properties": sent["properties"], "required": sent["required"]}
    expect_equal("properties and required of the 201 schema", expected, actual, help=AS_SENT)


def test_poster_body_is_documented(document):
    """the poster's raw body is documented: PNG or JPEG, required"""
    body = operation(document, POSTER).get("requestBody")
    expect_equal("request body of the poster upload", POSTER_BODY, body, help=RAW_BODY)


# -- the real answers fit the document ------------------------------------------------------


async def real_answer(exercise: ModuleType, case: str) -> httpx.Response:
    app = exercise.app
    if case == "buy-201":
        return await buy(app, "c-1", {"holder": "Ada", "seats": 2})
    if case == "buy-404":
        return await buy(app, "c-9", {"holder": "Ada", "seats": 2})
    if case == "buy-409":
        return await buy(app, "c-2", {"holder": "Ada", "seats": 3})
    if case == "poster-200":
        return await upload(app, "c-1", "image/jpeg")
    if case == "poster-404":
        return await upload(app, "c-9", "image/png")
    return await upload(app, "c-1", "image/gif")


DOCUMENTED_ALREADY = "the stub documents its success answers already"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param("buy-201", marks=pytest.mark.stub_may_pass(DOCUMENTED_ALREADY)),
        "buy-404",
        "buy-409",
        pytest.param("poster-200", marks=pytest.mark.stub_may_pass(DOCUMENTED_ALREADY)),
        "poster-404",
        "poster-415",
    ],
)
async def test_real_answer_fits_the_document(exercise, document, case):
    """each real answer is documented: its status, its media type and a schema its body fits"""
    key = BUY if case.startswith("buy") else POSTER
    expected_status = case.rsplit("-", 1)[1]
    response = await real_answer(exercise, case)
    expect_status(response, int(expected_status), help=STILL_SERVED)
    content = documented(document, key, expected_status).get("content", {})
    media_type = response.headers.get("content-type", "").split(";")[0]
    if media_type not in content:
        raise Failure(
            f"expected the {expected_status} answer's media type {media_type} to be "
            f"documented, not only {sorted(content)}",
            help=MODEL_UNDER_JSON if "application/json" in content else UNDOCUMENTED,
        )
    errors = schema_errors(document, content[media_type].get("schema", {}), response.json())
    expect_equal(f"schema errors of the real {expected_status} body", [], errors, help=DOES_NOT_FIT)


# -- the routes still answer ----------------------------------------------------------------


@pytest.mark.stub_may_pass("the routes are given: they answer on the stub too")
async def test_buying_the_last_seats(exercise):
    """buying exactly the seats left is served, and the next order is a 409 problem"""
    response = await buy(exercise.app, "c-2", {"holder": "Grace", "seats": 2})
    expect_status(response, 201, help=STILL_SERVED)
    ticket = {"concert_id": "c-2", "holder": "Grace", "seats": 2, "total": "90.00"}
    expect_json(response, ticket, help=STILL_SERVED)
    response = await buy(exercise.app, "c-2", {"holder": "Ada", "seats": 1})
    expect_status(response, 409, help=STILL_SERVED)
    expect_json(response, sold_out(0), help=STILL_SERVED)


@pytest.mark.stub_may_pass("the routes are given: they answer on the stub too")
@pytest.mark.parametrize(
    ("concert_id", "order", "status", "expected"),
    [
        ("c-1", {"holder": "Ada", "seats": 1}, 201, None),
        ("c-1", {"holder": "Ada", "seats": 41}, 409, sold_out(40)),
        ("c-2", {"holder": "Ada", "seats": 3}, 409, sold_out(2)),
        ("c-9", {"holder": "Ada", "seats": 1}, 404, NO_CONCERT),
        ("c-9", {"holder": "Ada", "seats": 0}, 422, None),
    ],
    ids=["served", "one-too-many-of-40", "one-too-many-of-2", "unknown-concert", "invalid-first"],
)
async def test_buying_answers(exercise, concert_id, order, status, expected):
    """orders are answered as before: the body first, then the concert, then the seats"""
    response = await buy(exercise.app, concert_id, order)
    expect_status(response, status, help=STILL_SERVED)
    if status == 201:
        ticket = {"concert_id": concert_id, **order, "total": "45.00"}
        expect_json(response, ticket, help=STILL_SERVED)
    elif expected is not None:
        expect_json(response, expected, help=STILL_SERVED)


@pytest.mark.stub_may_pass("the routes are given: they answer on the stub too")
@pytest.mark.parametrize(
    ("concert_id", "content_type", "status", "expected"),
    [
        ("c-1", "image/png", 200, {"concert_id": "c-1", "media_type": "image/png", "size": 32}),
        ("c-2", "image/jpeg", 200, {"concert_id": "c-2", "media_type": "image/jpeg", "size": 32}),
        ("c-1", "text/csv", 415, UNSUPPORTED),
        ("c-1", None, 415, UNSUPPORTED),
        *[("c-1", content_type, 415, UNSUPPORTED) for content_type in NEAR_MISSES],
        ("c-9", "text/csv", 404, NO_CONCERT),
    ],
    ids=[
        "png",
        "jpeg",
        "other-type",
        "no-type",
        "png-with-parameter",
        "jpeg-in-capitals",
        "unknown-concert-first",
    ],
)
async def test_poster_answers(exercise, concert_id, content_type, status, expected):
    """posters are answered as before: the concert first, then the exact media type"""
    response = await upload(exercise.app, concert_id, content_type)
    help = NO_NEW_RULES if content_type in NEAR_MISSES else STILL_SERVED
    expect_status(response, status, help=help)
    expect_json(response, expected, help=STILL_SERVED)
    if status != 200:
        expect_equal(
            "media type of the problem", PROBLEM_JSON, response.headers.get("content-type")
        )
