"""Hidden suite for 04_error_handling/02_validation_problems: a 422 problem of our own."""

from typing import Any

import httpx
import pytest

from workbook.testing import (
    client_for,
    expect,
    expect_header,
    expect_json,
    expect_status,
    response_json,
)

KEY = {"X-Api-Key": "k-123456"}  # 8 characters: the shortest valid key
TYPE = "https://example.com/problems/validation-error"
TITLE = "Request validation failed"
DETAIL = "The request is not valid; see errors."
PROBLEM_JSON = "application/problem+json"

DEFAULT_HANDLER = (
    "This is FastAPI's own 422: did you register a handler for RequestValidationError "
    "that answers with the problem instead?"
)
ENTRY = (
    "Does each entry hold exactly pointer, type and message? FastAPI's `loc`, `msg`, `input` "
    "and `ctx` must not be passed through."
)
ORDER = "Are the errors in FastAPI's order (exc.errors()), not sorted?"
ESCAPING = (
    'A JSON Pointer escapes "~" as "~0" and "/" as "~1", in that order: replacing "/" '
    'first turns its "~1" into "~01".'
)
AS_IT_IS = (
    'A JSON Pointer changes only "~" and "/" in a part: is the part percent-encoded, as a '
    "URI fragment would be? Every other character stays as it is."
)
JSON_INVALID = (
    "For a body that is not JSON, FastAPI's loc ends with a character offset, which is "
    'not a place in the document: the contract says the pointer is "/body".'
)
MEDIA_TYPE = "JSONResponse sends application/json unless it is given another media_type."


def problem(instance: str, *errors: tuple[str, str, str]) -> dict[str, Any]:
    entries = [{"pointer": p, "type": t, "message": m} for p, t, m in errors]
    return {
        "type": TYPE,
        "title": TITLE,
        "status": 422,
        "detail": DETAIL,
        "instance": instance,
        "errors": entries,
    }


def too_small(pointer: str) -> tuple[str, str, str]:
    return (pointer, "greater_than", "Input should be greater than 0")


async def send(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with client_for(app) as client:
        return await client.request(method, url, **kwargs)


def expect_problem(response: httpx.Response, expected: dict[str, Any], help: str) -> None:
    """A 422 with exactly this body; FastAPI's own body gets its own question."""
    expect_status(response, 422)
    body = response_json(response)
    if isinstance(body, dict) and set(body) == {"detail"}:
        help = DEFAULT_HANDLER
    expect_json(response, expected, help=help)


# -- valid requests ---------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub serves valid requests already")
@pytest.mark.parametrize(
    ("body", "lines"),
    [
        ({"items": {"tea/green": 1}}, 1),
        ({"items": {"tea": 2, "mug": 1}, "notes": ["gift"], "coupon": "SPRING24"}, 2),
    ],
    ids=["one-item", "everything"],
)
async def test_valid_orders_are_placed(exercise, body, lines):
    """a valid order is answered 201 as before"""
    response = await send(exercise.app, "POST", "/orders", json=body)
    expect_status(response, 201)
    expect_json(response, {"lines": lines})


@pytest.mark.stub_may_pass("the stub serves valid requests already")
@pytest.mark.parametrize(
    ("limit", "served"), [(1, 1), (50, 50), (None, 10)], ids=["1", "50", "absent"]
)
async def test_valid_reads_are_served(exercise, limit, served):
    """a valid read (limit 1 to 50, 10 when absent; a key of 8 characters) is served as before"""
    params = {} if limit is None else {"limit": limit}
    response = await send(exercise.app, "GET", "/orders/7", params=params, headers=KEY)
    expect_status(response, 200)
    expect_json(response, {"id": 7, "limit": served})


# -- the problem ------------------------------------------------------------------------------


async def test_body_error_is_a_validation_problem(exercise):
    """an invalid body is a 422 validation-error problem with one entry per error"""
    response = await send(exercise.app, "POST", "/orders", json={"items": {"tea": 0}})
    expect_problem(response, problem("/orders", too_small("/body/items/tea")), help=ENTRY)


async def test_problem_is_problem_json(exercise):
    """the problem is sent with Content-Type application/problem+json"""
    response = await send(exercise.app, "POST", "/orders", json={"items": {"tea": 0}})
    expect_status(response, 422)
    body = response_json(response)
    default = isinstance(body, dict) and set(body) == {"detail"}
    expect_header(
        response, "content-type", PROBLEM_JSON, help=DEFAULT_HANDLER if default else MEDIA_TYPE
    )


async def test_instance_is_the_path_without_query_string(exercise):
    """`instance` is the request path, without the query string"""
    response = await send(exercise.app, "GET", "/orders/7", params={"limit": 0}, headers=KEY)
    expected = problem(
        "/orders/7",
        ("/query/limit", "greater_than_equal", "Input should be greater than or equal to 1"),
    )
    expect_problem(
        response, expected, help="Is `instance` the path only? request.url holds the query too."
    )


@pytest.mark.parametrize(
    ("params", "headers", "error"),
    [
        (
            {"limit": 0},
            KEY,
            ("/query/limit", "greater_than_equal", "Input should be greater than or equal to 1"),
        ),
        (
            {"limit": 51},
            KEY,
            ("/query/limit", "less_than_equal", "Input should be less than or equal to 50"),
        ),
        (
            {},
            {"X-Api-Key": "k-12345"},
            ("/header/x-api-key", "string_too_short", "String should have at least 8 characters"),
        ),
    ],
    ids=["limit-0", "limit-51", "key-7-characters"],
)
async def test_query_and_header_errors_are_problems_too(exercise, params, headers, error):
    """a query or header parameter out of range is the same problem, at /query/... or /header/..."""
    response = await send(exercise.app, "GET", "/orders/7", params=params, headers=headers)
    expect_problem(response, problem("/orders/7", error), help=ENTRY)


async def test_errors_keep_fastapis_order(exercise):
    """several errors come in FastAPI's order: path, query, header"""
    response = await send(exercise.app, "GET", "/orders/seven", params={"limit": 51})
    expected = problem(
        "/orders/seven",
        (
            "/path/order_id",
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        ("/query/limit", "less_than_equal", "Input should be less than or equal to 50"),
        ("/header/x-api-key", "missing", "Field required"),
    )
    expect_problem(response, expected, help=ORDER)


async def test_list_positions_are_pointer_segments(exercise):
    """a position in a list is a segment of the pointer, counted from 0"""
    body = {"items": {"tea": 1}, "notes": ["gift", 7, 8]}
    response = await send(exercise.app, "POST", "/orders", json=body)
    expected = problem(
        "/orders",
        ("/body/notes/1", "string_type", "Input should be a valid string"),
        ("/body/notes/2", "string_type", "Input should be a valid string"),
    )
    expect_problem(response, expected, help=ENTRY)


async def test_pointer_escapes_tilde_then_slash(exercise):
    """a key holding "/" or "~" is escaped in the pointer: "~" as "~0", "/" as "~1" """
    body = {"items": {"tea/green": 0, "mug~large": 0, "a~/b": 0, "~1": 0}}
    response = await send(exercise.app, "POST", "/orders", json=body)
    expected = problem(
        "/orders",
        too_small("/body/items/tea~1green"),
        too_small("/body/items/mug~0large"),
        too_small("/body/items/a~0~1b"),
        too_small("/body/items/~01"),
    )
    expect_problem(response, expected, help=ESCAPING)


async def test_pointer_keeps_other_characters_as_they_are(exercise):
    """a key with a space, an accent or a "%" is written as it is, never percent-encoded"""
    body = {"items": {"thé vert": 0, "50% off": 0}}
    response = await send(exercise.app, "POST", "/orders", json=body)
    expected = problem(
        "/orders", too_small("/body/items/thé vert"), too_small("/body/items/50% off")
    )
    expect_problem(response, expected, help=AS_IT_IS)


async def test_input_is_never_echoed(exercise):
    """no entry echoes what was sent: not the input, not the ctx"""
    body = {"items": {"tea": 1}, "coupon": "hunter2-secret"}
    response = await send(exercise.app, "POST", "/orders", json=body)
    expect_status(response, 422)
    expect(
        "hunter2-secret" not in response.text,
        "expected the coupon sent not to appear in the body",
        help=ENTRY,
    )
    expected = problem(
        "/orders",
        ("/body/coupon", "string_pattern_mismatch", "String should match pattern '^[A-Z0-9]{8}$'"),
    )
    expect_problem(response, expected, help=ENTRY)


async def test_header_value_is_never_echoed(exercise):
    """a header error does not echo the header's value"""
    response = await send(exercise.app, "GET", "/orders/7", headers={"X-Api-Key": "s3cr3t!"})
    expect_status(response, 422)
    expect(
        "s3cr3t!" not in response.text,
        "expected the key sent not to appear in the body",
        help=ENTRY,
    )
    error = ("/header/x-api-key", "string_too_short", "String should have at least 8 characters")
    expect_problem(response, problem("/orders/7", error), help=ENTRY)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, ("/body", "missing", "Field required")),
        (
            {"json": ["tea"]},
            (
                "/body",
                "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from",
            ),
        ),
        (
            {"json": {"items": {}}},
            (
                "/body/items",
                "too_short",
                "Dictionary should have at least 1 item after validation, not 0",
            ),
        ),
    ],
    ids=["no-body", "list-body", "no-items"],
)
async def test_whole_body_errors(exercise, kwargs, error):
    """a missing body, a body that is not an object and an empty order are problems too"""
    response = await send(exercise.app, "POST", "/orders", **kwargs)
    expect_problem(response, problem("/orders", error), help=ENTRY)


async def test_broken_json_points_at_the_body(exercise):
    """a body that is not valid JSON is one json_invalid error at pointer "/body" """
    response = await send(
        exercise.app,
        "POST",
        "/orders",
        content=b'{"items": ',
        headers={"Content-Type": "application/json"},
    )
    expected = problem("/orders", ("/body", "json_invalid", "JSON decode error"))
    expect_problem(response, expected, help=JSON_INVALID)
