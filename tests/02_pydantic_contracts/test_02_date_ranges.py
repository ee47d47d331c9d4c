"""Hidden suite for 02_pydantic_contracts/02_date_ranges: cross-field rules with exact errors."""

from typing import Any

import pytest
from fastapi.exceptions import ResponseValidationError

from workbook.testing import (
    Failure,
    client_for,
    expect_equal,
    expect_json,
    expect_status,
    response_json,
)

BOOKING = {"room": "double", "guests": 2, "check_in": "2026-07-01", "check_out": "2026-07-05"}

VALUE_ERROR = (
    "Did you raise ValueError? Its error type is always value_error and its message gets a "
    "'Value error, ' prefix: which exception lets you choose both?"
)
FIELD_LEVEL = (
    "Does a field validator check this rule? A rule about several fields belongs to the "
    "model, whose errors are reported at the model's loc."
)
AFTER_NORMALIZE = (
    "Is room normalized before the Literal check runs? A validator in the default after "
    "mode only ever sees values that are already valid."
)

RETURNS_NONE = (
    "Does the model validator end with `return self`? In after mode, what it returns "
    "replaces the model, and None is not a booking."
)


def booking(**changes: Any) -> dict[str, Any]:
    return {**BOOKING, **changes}


async def post(app: Any, body: Any) -> Any:
    async with client_for(app) as client:
        try:
            return await client.post("/bookings", json=body)
        except ResponseValidationError as exc:
            if any(error.get("input") is None for error in exc.errors()):
                message = "expected the route to return the booking, not None"
                raise Failure(message, help=RETURNS_NONE) from None
            raise


def errors_of(response: Any) -> list[dict[str, Any]]:
    body = response_json(response)
    errors = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        raise Failure(f"expected a 422 body with a `detail` list, not {body!r}")
    return [error for error in errors if isinstance(error, dict)]


def rule_help(response: Any) -> str | None:
    """The question that fits a rule error of the wrong shape."""
    errors = errors_of(response) if response.status_code == 422 else []
    if any(error.get("type") == "value_error" for error in errors):
        return VALUE_ERROR
    if any(error.get("loc") not in (["body"], None) for error in errors):
        return FIELD_LEVEL
    return None


async def test_valid_booking_is_echoed_with_nights(exercise):
    """a valid booking is answered 201 and echoed with its number of nights"""
    response = await post(exercise.app, BOOKING)
    expect_status(response, 201)
    expect_json(response, {**BOOKING, "nights": 4})


async def test_room_ignores_spaces_and_case(exercise):
    """the room ignores surrounding spaces and letter case"""
    response = await post(exercise.app, booking(room="  Double "))
    expect_status(response, 201, help=AFTER_NORMALIZE)
    expect_equal("room", "double", response_json(response).get("room"))


@pytest.mark.stub_may_pass("the stub has no room normalizer that could crash on a number")
async def test_room_that_is_not_a_string(exercise):
    """a room that is not a string gets the ordinary literal_error, not a crash"""
    response = await post(exercise.app, booking(room=5))
    expect_status(response, 422)
    expected = "'single', 'double' or 'suite'"
    error = {
        "type": "literal_error",
        "loc": ["body", "room"],
        "msg": f"Input should be {expected}",
        "input": 5,
        "ctx": {"expected": expected},
    }
    expect_json(response, {"detail": [error]})


@pytest.mark.parametrize(
    ("case", "check_out"),
    [("before", "2026-06-28"), ("on the same day as", "2026-07-01")],
    ids=["before", "same-day"],
)
async def test_check_out_must_follow_check_in(exercise, case, check_out):
    """a check_out {case} check_in is one date_order error"""
    body = booking(check_out=check_out)
    response = await post(exercise.app, body)
    expect_status(response, 422)
    error = {
        "type": "date_order",
        "loc": ["body"],
        "msg": "check_out must be after check_in",
        "input": body,
    }
    expect_json(response, {"detail": [error]}, help=rule_help(response))


async def test_stay_longer_than_14_nights(exercise):
    """a stay of 15 nights is one stay_too_long error, with the limit in ctx"""
    body = booking(check_out="2026-07-16")
    response = await post(exercise.app, body)
    expect_status(response, 422)
    error = {
        "type": "stay_too_long",
        "loc": ["body"],
        "msg": "a stay lasts at most 14 nights",
        "input": body,
        "ctx": {"max_nights": 14},
    }
    expect_json(response, {"detail": [error]}, help=rule_help(response))


@pytest.mark.parametrize(
    ("nights", "check_out", "help"),
    [
        (
            1,
            "2026-07-02",
            "Does the order rule refuse one night too? The day after check_in is fine.",
        ),
        (14, "2026-07-15", "Is the limit compared with > rather than >=?"),
    ],
    ids=["one", "fourteen"],
)
async def test_stay_at_the_limits(exercise, nights, check_out, help):
    """a stay of exactly {nights} night(s) is accepted"""
    body = booking(check_out=check_out)
    response = await post(exercise.app, body)
    expect_status(response, 201, help=help)
    expect_json(response, {**body, "nights": nights})


@pytest.mark.parametrize(
    ("end", "check_in", "check_out", "nights"),
    [("a month", "2026-06-28", "2026-07-03", 5), ("a year", "2026-12-30", "2027-01-02", 3)],
    ids=["month", "year"],
)
async def test_nights_across_the_end_of(exercise, end, check_in, check_out, nights):
    """nights are counted across the end of {end}"""
    body = booking(check_in=check_in, check_out=check_out)
    response = await post(exercise.app, body)
    help = "Are nights counted from whole dates, or only from the day of the month?"
    expect_status(response, 201, help=help)
    expect_json(response, {**body, "nights": nights}, help=help)


@pytest.mark.parametrize("guests", [1, 4])
async def test_guests_within_limits(exercise, guests):
    """a booking for {guests} guest(s) is accepted"""
    body = booking(guests=guests)
    response = await post(exercise.app, body)
    expect_status(response, 201)
    expect_json(response, {**body, "nights": 4})


@pytest.mark.stub_may_pass("the stub keeps the guest limits of the model")
@pytest.mark.parametrize(
    ("guests", "error_type"), [(0, "greater_than_equal"), (5, "less_than_equal")]
)
async def test_guests_past_limits(exercise, guests, error_type):
    """a booking for {guests} guests is one {error_type} error at guests"""
    response = await post(exercise.app, booking(guests=guests))
    expect_status(response, 422)
    found = [{"loc": error.get("loc"), "type": error.get("type")} for error in errors_of(response)]
    expected = [{"loc": ["body", "guests"], "type": error_type}]
    expect_equal("errors (loc and type)", expected, found)


BEFORE_MODE = (
    "Do the date rules run before the fields are validated? A model validator in before "
    "mode stops at its first error, so the field errors are never reported."
)


@pytest.mark.stub_may_pass("the stub has no date rule that could add or hide an error")
@pytest.mark.parametrize(
    ("case", "changes", "expected"),
    [
        (
            "guests of 0 and check_out before check_in",
            {"guests": 0, "check_out": "2026-06-28"},
            [{"loc": ["body", "guests"], "type": "greater_than_equal"}],
        ),
        (
            "an unknown room and a stay of 20 nights",
            {"room": "penthouse", "check_out": "2026-07-21"},
            [{"loc": ["body", "room"], "type": "literal_error"}],
        ),
        (
            "an unknown room and 5 guests",
            {"room": "penthouse", "guests": 5},
            [
                {"loc": ["body", "guests"], "type": "less_than_equal"},
                {"loc": ["body", "room"], "type": "literal_error"},
            ],
        ),
    ],
    ids=["guests-and-order", "room-and-length", "room-and-guests"],
)
async def test_field_errors_come_alone(exercise, case, changes, expected):
    """a booking with {case} gets only its field errors, one per field"""
    response = await post(exercise.app, booking(**changes))
    expect_status(response, 422)
    found = [{"loc": error.get("loc"), "type": error.get("type")} for error in errors_of(response)]
    found.sort(key=lambda error: str(error["loc"]))
    expect_equal("errors (loc and type)", expected, found, help=BEFORE_MODE)


@pytest.mark.stub_may_pass("the stub has no rule that could run on an invalid date")
async def test_invalid_date_is_reported_alone(exercise):
    """an invalid date gets its own field error, alone: no date rule runs on it"""
    response = await post(exercise.app, booking(check_in="2026-02-30"))
    expect_status(response, 422)
    found = [{"loc": error.get("loc"), "type": error.get("type")} for error in errors_of(response)]
    expected = [{"loc": ["body", "check_in"], "type": "date_from_datetime_parsing"}]
    expect_equal("errors (loc and type)", expected, found)


async def test_openapi_documents_nights(exercise):
    """the OpenAPI schema of the 201 response lists nights as an integer"""
    async with client_for(exercise.app) as client:
        document = response_json(await client.get("/openapi.json"))
    try:
        response = document["paths"]["/bookings"]["post"]["responses"]["201"]
        schema = response["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        nights = schema["properties"].get("nights", {})
    except (KeyError, TypeError, AttributeError):
        raise Failure("expected OpenAPI to describe the JSON body of the 201 response") from None
    expect_equal("type of nights in the response schema", "integer", nights.get("type"))
