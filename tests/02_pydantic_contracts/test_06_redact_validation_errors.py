"""Hidden suite for 02_pydantic_contracts/06_redact_validation_errors: 422s without secrets."""

from typing import Any

import pytest

from workbook.testing import client_for, expect_json, expect_status

R = "[redacted]"
SIGNUP = {"username": "ada", "password": "correct-horse-battery"}
CARD = {"card_number": "4111111111111111", "holder": "Ada Lovelace"}
CLIENT = {"Authorization": "Bearer t0k3n", "X-Client-Id": "web"}

ECHOED = (
    "FastAPI's default handler echoes `input` as it was sent: did you register a handler "
    "for RequestValidationError on the app?"
)
WHOLE_INPUT = (
    "Is the error's loc checked? When the loc ends with a secret name, the whole input is "
    "replaced, whatever it is."
)
DEEP = "Is the input searched at every depth, through nested objects and lists?"
EXACT_NAMES = (
    "Are names compared whole and without regard to case? `password_hint` is not secret, "
    "`Password` is."
)
NO_SHAPE = "Does the handler keep FastAPI's body: {\"detail\": [...]} with each error's keys?"


async def send(app: Any, method: str, url: str, **kwargs: Any) -> Any:
    async with client_for(app) as client:
        return await client.request(method, url, **kwargs)


def missing(loc: list[Any], input: Any) -> dict[str, Any]:
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": input}


def string_type(loc: list[Any], input: Any) -> dict[str, Any]:
    return {
        "type": "string_type",
        "loc": loc,
        "msg": "Input should be a valid string",
        "input": input,
    }


def short_password(input: Any) -> dict[str, Any]:
    return {
        "type": "string_too_short",
        "loc": ["body", "password"],
        "msg": "String should have at least 12 characters",
        "input": input,
        "ctx": {"min_length": 12},
    }


# -- valid requests ----------------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub serves valid requests already")
@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status", "body"),
    [
        ("POST", "/signups", {"json": SIGNUP}, 201, {"username": "ada"}),
        ("POST", "/signups", {"json": {**SIGNUP, "password": "x" * 12}}, 201, {"username": "ada"}),
        (
            "POST",
            "/payments",
            {"json": {"amount_cents": 1999, "card": CARD}},
            201,
            {"amount_cents": 1999},
        ),
        ("GET", "/me", {"headers": CLIENT}, 200, {"client_id": "web"}),
    ],
    ids=["signup", "signup-12-characters", "payment", "me"],
)
async def test_valid_requests_are_served(exercise, method, url, kwargs, status, body):
    """valid requests are answered as before"""
    response = await send(exercise.app, method, url, **kwargs)
    expect_status(response, status)
    expect_json(response, body)


# -- an error at a secret name: the whole input -------------------------------------------


async def test_short_password_is_redacted(exercise):
    """a password that is too short comes back as "[redacted]", with type, msg and ctx kept"""
    response = await send(exercise.app, "POST", "/signups", json={**SIGNUP, "password": "x" * 11})
    expect_status(response, 422)
    expect_json(response, {"detail": [short_password(R)]}, help=ECHOED)


@pytest.mark.parametrize(
    "password",
    [123456789012345, None, ["correct", "horse"], {"value": "correct-horse"}],
    ids=["number", "null", "list", "object"],
)
async def test_password_of_any_type_is_redacted(exercise, password):
    """a password that is not a string comes back as "[redacted]" too, whatever it was"""
    response = await send(exercise.app, "POST", "/signups", json={**SIGNUP, "password": password})
    expect_status(response, 422)
    expected = {"detail": [string_type(["body", "password"], R)]}
    expect_json(response, expected, help=WHOLE_INPUT)


async def test_card_number_is_redacted_at_its_nested_loc(exercise):
    """a card number that does not match, at ["body", "card", "card_number"], is redacted"""
    card = {**CARD, "card_number": "4111 1111 1111 1111"}
    response = await send(exercise.app, "POST", "/payments", json={"amount_cents": 5, "card": card})
    expect_status(response, 422)
    error = {
        "type": "string_pattern_mismatch",
        "loc": ["body", "card", "card_number"],
        "msg": "String should match pattern '^\\d{16}$'",
        "input": R,
        "ctx": {"pattern": "^\\d{16}$"},
    }
    expect_json(response, {"detail": [error]}, help=ECHOED)


async def test_missing_password_replaces_the_whole_input(exercise):
    """a missing password is an error at a secret name: its input (the body) is "[redacted]" """
    response = await send(exercise.app, "POST", "/signups", json={"username": "ada"})
    expect_status(response, 422)
    expect_json(response, {"detail": [missing(["body", "password"], R)]}, help=WHOLE_INPUT)


async def test_malformed_authorization_is_redacted(exercise):
    """an Authorization header that does not match comes back as "[redacted]" """
    headers = {**CLIENT, "Authorization": "Basic YWRhOnB3"}
    response = await send(exercise.app, "GET", "/me", headers=headers)
    expect_status(response, 422)
    error = {
        "type": "string_pattern_mismatch",
        "loc": ["header", "authorization"],
        "msg": "String should match pattern '^Bearer \\S+$'",
        "input": R,
        "ctx": {"pattern": "^Bearer \\S+$"},
    }
    expect_json(response, {"detail": [error]}, help=ECHOED)


async def test_missing_authorization_replaces_the_headers(exercise):
    """a missing Authorization header: its input (every header) is "[redacted]" """
    headers = {"X-Client-Id": "web", "Cookie": "session=s3cr3t"}
    response = await send(exercise.app, "GET", "/me", headers=headers)
    expect_status(response, 422)
    expected = {"detail": [missing(["header", "authorization"], R)]}
    expect_json(response, expected, help=WHOLE_INPUT)


# -- any other error: its input, with secret keys redacted inside -------------------------


async def test_missing_field_keeps_its_input_without_the_password(exercise):
    """a missing username keeps its input, the body, with only the password redacted"""
    body = {"password": "correct-horse-battery", "password_hint": "a horse"}
    response = await send(exercise.app, "POST", "/signups", json=body)
    expect_status(response, 422)
    expected = missing(["body", "username"], {"password": R, "password_hint": "a horse"})
    expect_json(response, {"detail": [expected]}, help=ECHOED)


async def test_model_rule_keeps_its_ctx_and_redacts_the_password(exercise):
    """a rule of the model (a ValueError) keeps type, msg and ctx, its password redacted"""
    body = {"username": "ada", "password": "ada-lovelace-1815"}
    response = await send(exercise.app, "POST", "/signups", json=body)
    expect_status(response, 422)
    error = {
        "type": "value_error",
        "loc": ["body"],
        "msg": "Value error, the password must not contain the username",
        "input": {"username": "ada", "password": R},
        "ctx": {"error": {}},
    }
    expect_json(
        response,
        {"detail": [error]},
        help="Is the ctx encoded as FastAPI's own handler does? It holds the ValueError itself.",
    )


@pytest.mark.parametrize(
    "number", ["4111111111111111", 4111111111111111, None], ids=["string", "number", "null"]
)
async def test_nested_card_number_is_redacted_in_the_body(exercise, number):
    """a missing amount keeps the body, with the card number nested in it redacted"""
    body = {"card": {"card_number": number, "holder": "Ada"}}
    response = await send(exercise.app, "POST", "/payments", json=body)
    expect_status(response, 422)
    detail = [missing(["body", "amount_cents"], {"card": {"card_number": R, "holder": "Ada"}})]
    if not isinstance(number, str):
        detail.append(string_type(["body", "card", "card_number"], R))
    expect_json(response, {"detail": detail}, help=DEEP)


async def test_card_number_is_redacted_inside_a_list(exercise):
    """a card sent as a list keeps its input, with the card number inside the list redacted"""
    body = {"amount_cents": 5, "card": [{"card_number": "4111111111111111", "holder": "Ada"}]}
    response = await send(exercise.app, "POST", "/payments", json=body)
    expect_status(response, 422)
    error = {
        "type": "model_attributes_type",
        "loc": ["body", "card"],
        "msg": "Input should be a valid dictionary or object to extract fields from",
        "input": [{"card_number": R, "holder": "Ada"}],
    }
    expect_json(response, {"detail": [error]}, help=DEEP)


async def test_secret_names_ignore_letter_case(exercise):
    """a secret key in another letter case (CARD_NUMBER) is redacted too"""
    body = {"card": {"CARD_NUMBER": "4111111111111111", "holder": "Ada"}}
    response = await send(exercise.app, "POST", "/payments", json=body)
    expect_status(response, 422)
    detail = [
        missing(["body", "amount_cents"], {"card": {"CARD_NUMBER": R, "holder": "Ada"}}),
        missing(["body", "card", "card_number"], R),
    ]
    expect_json(response, {"detail": detail}, help=EXACT_NAMES)


async def test_missing_header_redacts_secret_headers_only(exercise):
    """a missing X-Client-Id keeps every header, with Authorization and Cookie redacted"""
    headers = {
        "Authorization": "Bearer t0k3n",
        "Cookie": "session=s3cr3t",
        "X-Cookie-Consent": "yes",
    }
    response = await send(exercise.app, "GET", "/me", headers=headers)
    expect_status(response, 422)
    sent = {name.lower(): value for name, value in response.request.headers.items()}
    expected = {**sent, "authorization": R, "cookie": R}
    expect_json(
        response,
        {"detail": [missing(["header", "x-client-id"], expected)]},
        help="Are secret headers redacted, and every other header (x-cookie-consent too) kept?",
    )


async def test_several_errors_are_each_redacted_or_kept(exercise):
    """with several invalid fields, each error is redacted or kept on its own, in order"""
    body = {"username": 42, "password": "short", "password_hint": 7}
    response = await send(exercise.app, "POST", "/signups", json=body)
    expect_status(response, 422)
    detail = [
        string_type(["body", "username"], 42),
        short_password(R),
        string_type(["body", "password_hint"], 7),
    ]
    expect_json(response, {"detail": detail}, help=EXACT_NAMES)


# -- errors without secrets --------------------------------------------------------------


@pytest.mark.stub_may_pass("FastAPI's own handler keeps every input")
async def test_non_secret_input_is_kept(exercise):
    """an error at a field that is not secret keeps its input as it was sent"""
    body = {"amount_cents": "ten", "card": {**CARD, "holder": ["Ada", "Lovelace"]}}
    response = await send(exercise.app, "POST", "/payments", json=body)
    expect_status(response, 422)
    detail = [
        {
            "type": "int_parsing",
            "loc": ["body", "amount_cents"],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "input": "ten",
        },
        string_type(["body", "card", "holder"], ["Ada", "Lovelace"]),
    ]
    expect_json(response, {"detail": detail}, help=NO_SHAPE)


@pytest.mark.stub_may_pass("FastAPI's own handler answers a broken JSON body this way")
async def test_invalid_json_keeps_fastapis_error(exercise):
    """a body that is not valid JSON gets FastAPI's json_invalid error, unchanged"""
    response = await send(
        exercise.app,
        "POST",
        "/signups",
        content=b'{"username": ',
        headers={"Content-Type": "application/json"},
    )
    expect_status(response, 422)
    error = {
        "type": "json_invalid",
        "loc": ["body", 13],
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": "Expecting value"},
    }
    expect_json(response, {"detail": [error]}, help=NO_SHAPE)
