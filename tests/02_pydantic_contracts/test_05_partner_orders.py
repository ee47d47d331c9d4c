"""Hidden suite for 02_pydantic_contracts/05_partner_orders: aliases, strict fields, headers."""

from typing import Any

import pytest

from workbook.testing import (
    Failure,
    client_for,
    expect_equal,
    expect_json,
    expect_status,
    response_json,
)

PARTNER = {"X-Partner-Id": "acme"}
ORDER = {"orderId": "A-1001", "totalCents": 1999, "shipOn": "2026-07-01", "giftWrap": True}
CAMEL_KEYS = ["giftWrap", "orderId", "shipOn", "totalCents"]

MODEL_STRICT = (
    "Is the whole model strict? FastAPI validates the decoded JSON in Python mode, where a "
    "strict date refuses an ISO string: make only the fields strict that need it."
)
LAX = "Is the field strict? In lax mode Pydantic converts such a string for you."
NOT_CAMEL = "Does the model generate a camelCase alias for every field?"


async def post(app: Any, body: Any, headers: dict[str, str] = PARTNER) -> Any:
    async with client_for(app) as client:
        return await client.post("/orders", json=body, headers=headers)


def errors(response: Any) -> list[dict[str, Any]]:
    """Type and loc of each validation error (the header error's input is every header)."""
    body = response_json(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    return [
        {"type": error.get("type"), "loc": error.get("loc")}
        for error in detail or []
        if isinstance(error, dict)
    ]


def status_help(response: Any) -> str | None:
    found = errors(response) if response.status_code == 422 else []
    if any(error["type"] == "date_type" for error in found):
        return MODEL_STRICT
    if any(error["type"] == "missing" and (error["loc"] or [])[:1] == ["body"] for error in found):
        return NOT_CAMEL
    return None


async def test_order_is_echoed_in_camel_case(exercise):
    """a camelCase order is answered 201, echoed in camelCase with the partner id"""
    response = await post(exercise.app, ORDER)
    expect_status(response, 201, help=status_help(response))
    expect_json(response, {**ORDER, "partnerId": "acme"})


async def test_legacy_order_ref_is_accepted(exercise):
    """the legacy key order_ref is accepted for orderId"""
    body = {"order_ref": "A-1001", "totalCents": 1999, "shipOn": "2026-07-01"}
    response = await post(exercise.app, body)
    expect_status(response, 201, help=status_help(response))
    expect_json(response, {**ORDER, "giftWrap": False, "partnerId": "acme"})


async def test_total_as_string_is_refused(exercise):
    """totalCents sent as a string is one int_type error, not converted"""
    response = await post(exercise.app, {**ORDER, "totalCents": "1999"})
    expect_status(response, 422, help=LAX)
    error = {
        "type": "int_type",
        "loc": ["body", "totalCents"],
        "msg": "Input should be a valid integer",
        "input": "1999",
    }
    expect_json(response, {"detail": [error]}, help=status_help(response))


async def test_gift_wrap_as_string_is_refused(exercise):
    """giftWrap sent as a string is one bool_type error, not converted"""
    response = await post(exercise.app, {**ORDER, "giftWrap": "yes"})
    expect_status(response, 422, help=LAX)
    error = {
        "type": "bool_type",
        "loc": ["body", "giftWrap"],
        "msg": "Input should be a valid boolean",
        "input": "yes",
    }
    expect_json(response, {"detail": [error]}, help=status_help(response))


@pytest.mark.parametrize("key", ["totalCents", "orderId"])
async def test_errors_name_camel_case_keys(exercise, key):
    """a missing {key} is one missing error at its camelCase key"""
    body = {name: value for name, value in ORDER.items() if name != key}
    response = await post(exercise.app, body)
    expect_status(response, 422)
    expected = [{"type": "missing", "loc": ["body", key]}]
    expect_equal("errors (type and loc)", expected, errors(response), help=NOT_CAMEL)


async def test_order_id_wins_over_legacy_key(exercise):
    """when both orderId and order_ref are sent, orderId wins"""
    response = await post(exercise.app, {**ORDER, "order_ref": "LEGACY-7"})
    expect_status(response, 201, help=status_help(response))
    expect_json(
        response,
        {**ORDER, "partnerId": "acme"},
        help="Is order_ref tried before orderId, or copied over it?",
    )


async def test_gift_wrap_defaults_to_false(exercise):
    """an order without giftWrap is echoed with giftWrap false"""
    body = {key: value for key, value in ORDER.items() if key != "giftWrap"}
    response = await post(exercise.app, body)
    expect_status(response, 201, help=status_help(response))
    expect_json(response, {**body, "giftWrap": False, "partnerId": "acme"})


async def test_total_of_one_is_accepted(exercise):
    """a totalCents of 1 is accepted"""
    response = await post(exercise.app, {**ORDER, "totalCents": 1})
    expect_status(response, 201, help=status_help(response))
    expect_json(response, {**ORDER, "totalCents": 1, "partnerId": "acme"})


@pytest.mark.parametrize("total", [0, -1])
async def test_total_not_above_zero_is_refused(exercise, total):
    """a totalCents of {total} is one greater_than error"""
    response = await post(exercise.app, {**ORDER, "totalCents": total})
    expect_status(response, 422, help=status_help(response))
    expected = [{"type": "greater_than", "loc": ["body", "totalCents"]}]
    expect_equal("errors (type and loc)", expected, errors(response), help=status_help(response))


async def test_ship_on_is_a_real_date(exercise):
    """a shipOn that is no calendar date ("2026-02-30") is one error at shipOn"""
    response = await post(exercise.app, {**ORDER, "shipOn": "2026-02-30"})
    expect_status(response, 422, help="Is shipOn read as a date, or kept as any string?")
    found = [error["loc"] for error in errors(response)]
    expect_equal("error locs", [["body", "shipOn"]], found, help=status_help(response))


async def test_missing_partner_header(exercise):
    """without the X-Partner-Id header: one missing error at ["header", "x-partner-id"]"""
    response = await post(exercise.app, ORDER, headers={})
    expect_status(response, 422)
    expected = [{"type": "missing", "loc": ["header", "x-partner-id"]}]
    expect_equal("errors (type and loc)", expected, errors(response), help=status_help(response))


async def openapi_operation(app: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    async with client_for(app) as client:
        response = await client.get("/openapi.json")
    expect_status(response, 200)
    document = response_json(response)
    try:
        return document, document["paths"]["/orders"]["post"]
    except (KeyError, TypeError):
        raise Failure("expected the OpenAPI document to describe POST /orders") from None


async def test_openapi_shows_camel_case_keys(exercise):
    """OpenAPI describes the order body with its camelCase keys"""
    document, operation = await openapi_operation(exercise.app)
    try:
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        name = schema["$ref"].rsplit("/", 1)[-1] if "$ref" in schema else None
        properties = (document["components"]["schemas"][name] if name else schema)["properties"]
    except (KeyError, TypeError, AttributeError):
        raise Failure("expected OpenAPI to describe the JSON body of POST /orders") from None
    expect_equal("body properties", CAMEL_KEYS, sorted(properties), help=NOT_CAMEL)


async def test_openapi_shows_partner_header(exercise):
    """OpenAPI lists x-partner-id as a required header parameter"""
    _, operation = await openapi_operation(exercise.app)
    headers = {
        parameter.get("name"): parameter
        for parameter in operation.get("parameters", [])
        if parameter.get("in") == "header"
    }
    expect_equal("header parameters", ["x-partner-id"], sorted(headers))
    expect_equal("required of x-partner-id", True, headers["x-partner-id"].get("required"))
