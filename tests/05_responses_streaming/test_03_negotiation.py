"""Hidden suite for 05_responses_streaming/03_negotiation: Accept, q-values, 406 and Vary."""

from typing import Any

import pytest

from workbook.testing import (
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
)

JSON, CSV, XML = "application/json", "text/csv", "application/xml"
STUB_JSON = pytest.mark.stub_may_pass("the stub always answers JSON, which is right here")

BODIES = {
    JSON: (
        b'[{"id":1,"customer":"Ada Lovelace","total":"12.50","note":null},'
        b'{"id":2,"customer":"Hopper, Grace","total":"3.00","note":"ring twice"},'
        b'{"id":3,"customer":"Alan Turing","total":"0.99","note":""}]'
    ),
    CSV: (
        b"id,customer,total,note\r\n1,Ada Lovelace,12.50,\r\n"
        b'2,"Hopper, Grace",3.00,ring twice\r\n3,Alan Turing,0.99,\r\n'
    ),
    XML: (
        b"<?xml version='1.0' encoding='utf-8'?>\n<orders>"
        b"<order><id>1</id><customer>Ada Lovelace</customer><total>12.50</total></order>"
        b"<order><id>2</id><customer>Hopper, Grace</customer><total>3.00</total>"
        b"<note>ring twice</note></order>"
        b"<order><id>3</id><customer>Alan Turing</customer><total>0.99</total><note /></order>"
        b"</orders>"
    ),
}
CONTENT_TYPES = {JSON: "application/json", CSV: "text/csv; charset=utf-8", XML: XML}
NOT_ACCEPTABLE = {"detail": "Not Acceptable", "supported": [JSON, CSV, XML]}

SPECIFIC = (
    "Does the most specific matching range decide a type's quality, even when a wildcard "
    "has a higher q? Take each supported type in turn and find its best-fitting range."
)
SERVER_ORDER = (
    "Are ties broken by the server's order (JSON, CSV, XML) rather than by the order of the header?"
)
Q_ZERO = "Does q=0 make a type not acceptable, and does a type that no range matches get 0?"
WHOLE_TYPES = (
    "Are ranges matched as whole type/subtype pairs? A prefix or a substring is not a match, "
    "and */json is not a range."
)
BAD_Q = "Is a range with an invalid q ignored, as if it were not there? It weighs neither 1 nor 0."
CASE = "Are media types and the q parameter compared without regard to case?"
WILDCARDS = "Does */* match every type, and text/* or application/* every type of that type?"
SPACES = "Are the spaces around commas and semicolons stripped, and empty elements skipped?"


def choose(exercise: Any, accept: str | None) -> Any:
    try:
        return exercise.choose_media_type(accept)
    except Exception as exc:
        raise Failure(
            f"choose_media_type({accept!r}) raised {type(exc).__name__}: {exc}",
            help="Does choose_media_type handle every Accept the contract describes?",
        ) from None


def expect_choice(exercise: Any, accept: str | None, expected: str | None, help: str) -> None:
    actual = choose(exercise, accept)
    expect_equal(f"choose_media_type({accept!r}) to return", expected, actual, help=help)


def case(accept: str | None, expected: str | None, name: str) -> Any:
    marks = [STUB_JSON] if expected == JSON else []
    return pytest.param(accept, expected, id=name, marks=marks)


# -- choose_media_type -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [case(None, JSON, "missing"), case("", JSON, "empty"), case("  \t", JSON, "blank")],
)
def test_no_preference_means_json(exercise, accept, expected):
    """no Accept header, an empty one or a blank one means JSON"""
    expect_choice(exercise, accept, expected, help="Is a missing or blank header taken as JSON?")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        case(JSON, JSON, "json"),
        case(CSV, CSV, "csv"),
        case(XML, XML, "xml"),
        case("TEXT/CSV", CSV, "csv-upper-case"),
        case("Application/Xml", XML, "xml-mixed-case"),
    ],
)
def test_exact_types(exercise, accept, expected):
    """a range naming a supported type chooses it, in any letter case"""
    help = CASE if accept != accept.lower() else "Does a range naming a supported type choose it?"
    expect_choice(exercise, accept, expected, help=help)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        case("*/*", JSON, "any"),
        case("text/*", CSV, "any-text"),
        case("application/*", JSON, "any-application"),
        case("application/*;q=0.5, text/*;q=0.6", CSV, "text-above-application"),
        case("*/*;q=0.1, text/csv", CSV, "csv-above-any"),
    ],
)
def test_wildcards(exercise, accept, expected):
    """*/* matches every type, type/* the types of that type"""
    expect_choice(exercise, accept, expected, help=WILDCARDS)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        case("text/csv;q=0.5, application/json;q=0.4", CSV, "csv-0.5"),
        case("application/json;q=0.5, application/xml;q=0.501", XML, "xml-0.501"),
        case("application/json;q=0.2, application/xml;q=1.000", XML, "xml-1.000"),
        case("application/xml;q=0, text/csv;q=0.001", CSV, "csv-0.001"),
    ],
)
def test_highest_quality_wins(exercise, accept, expected):
    """the type of highest quality wins"""
    expect_choice(
        exercise, accept, expected, help="Is q read as a number, and does the highest win?"
    )


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        case("application/xml, application/json", JSON, "xml-json"),
        case("application/xml, text/csv", CSV, "xml-csv"),
        case("text/csv;q=0.5, application/json;q=0.5", JSON, "equal-q"),
        case("application/xml, text/csv;q=1", CSV, "explicit-q-1"),
        case("application/xml;q=0.3, text/csv;q=0.30", CSV, "same-number"),
    ],
)
def test_ties_follow_the_server_order(exercise, accept, expected):
    """between equal qualities the server's order decides: JSON, then CSV, then XML"""
    expect_choice(exercise, accept, expected, help=SERVER_ORDER)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        case("*/*, application/json;q=0.1, text/csv;q=0.5", XML, "exact-below-any"),
        case(
            "application/*;q=0.5, application/json;q=0.1, text/csv;q=0.2", XML, "exact-below-type"
        ),
        case(
            "text/*;q=0.9, text/csv;q=0.1, application/json;q=0.15, */*;q=0.2",
            XML,
            "exact-below-text",
        ),
        case("*/*;q=0.3, text/*;q=0.2, application/*;q=0.1", CSV, "type-below-any"),
    ],
)
def test_specific_range_beats_wildcard(exercise, accept, expected):
    """the most specific matching range sets a type's quality, whatever a wildcard says"""
    expect_choice(exercise, accept, expected, help=SPECIFIC)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        case("*/*, application/json;q=0", CSV, "json-excluded"),
        case("text/*, text/csv;q=0.0, application/xml;q=0.5", XML, "csv-excluded"),
        case("application/json;q=0, application/xml;q=0.000, text/csv;q=0.1", CSV, "two-excluded"),
    ],
)
def test_q_zero_excludes_a_type(exercise, accept, expected):
    """q=0 makes a type not acceptable, even where a wildcard would accept it"""
    expect_choice(exercise, accept, expected, help=Q_ZERO)


@pytest.mark.parametrize(
    "accept",
    [
        "image/png",
        "application/json;q=0",
        "*/*;q=0",
        "text/*;q=0, application/*;q=0",
        "application/json;q=0.0, text/csv;q=0.000, */*;q=0",
        "application/jsonl, text/csv-schema",
        "application/json-patch+json, text/c",
    ],
    ids=[
        "other-type",
        "json-q-0",
        "any-q-0",
        "wildcards-q-0",
        "all-q-0",
        "longer-names",
        "prefixes",
    ],
)
def test_nothing_acceptable(exercise, accept):
    """when every type has quality 0, choose_media_type returns None"""
    help = WHOLE_TYPES if "q=0" not in accept else Q_ZERO
    expect_choice(exercise, accept, None, help=help)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        case("json", None, "no-slash"),
        case("*/json", None, "any-json"),
        case("*", None, "star"),
        case("text/, /csv", None, "half-ranges"),
        case("*/json, */csv;q=0.5, application/xml;q=0.1", XML, "beside-a-range"),
    ],
)
def test_malformed_ranges_match_nothing(exercise, accept, expected):
    """an element that is not */*, type/* or type/subtype matches nothing"""
    expect_choice(exercise, accept, expected, help=WHOLE_TYPES)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        case("text/csv;q=abc, application/xml;q=0.1", XML, "not-a-number"),
        case("text/csv;q=1.5, application/xml;q=0.1", XML, "above-1"),
        case("text/csv;q=-1, application/xml;q=0.1", XML, "negative"),
        case("text/csv;q=, application/xml;q=0.1", XML, "empty"),
        case("text/csv;q=abc", None, "alone"),
        case("text/csv;q=2, text/*;q=0.5, application/xml;q=0.1", CSV, "wildcard-applies"),
        case("text/csv;q=-1, text/*;q=0.5", CSV, "negative-wildcard-applies"),
    ],
)
def test_invalid_q_ignores_the_range(exercise, accept, expected):
    """a range whose q is not a number from 0 to 1 is ignored"""
    expect_choice(exercise, accept, expected, help=BAD_Q)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        case("text/csv;charset=utf-8", CSV, "charset"),
        case("text/csv;charset=utf-8;q=0.5, application/xml;q=0.4", CSV, "charset-and-q"),
        case("application/xml;level=1;q=0.4, text/csv;q=0.3", XML, "q-after-a-parameter"),
        case("text/csv;Q=0.2, application/xml;q=0.3", XML, "upper-case-q"),
        case("text/csv;q=0.1;charset=utf-8, application/xml;q=0.4", XML, "parameter-after-q"),
    ],
)
def test_parameters(exercise, accept, expected):
    """parameters other than q change nothing, before q or after it, and Q is q"""
    help = (
        "Are parameters other than q ignored wherever they stand, before q or after it, "
        "and is the name Q read as q?"
    )
    expect_choice(exercise, accept, expected, help=help)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        case(" text/csv ; q=0.5 , application/xml ; q=0.4 ", CSV, "spaces"),
        case("text/csv,,application/xml;q=0.1,", CSV, "empty-elements"),
        case("application/xml;q=0.1,\ttext/csv;\tq=0.2", CSV, "tabs"),
        case("application/xml; q=0.5, text/csv; q=0.4", XML, "space-before-q"),
        case("application/xml;\tq=0.3, text/csv;q=0.4", CSV, "tab-before-q"),
    ],
)
def test_spaces_and_empty_elements(exercise, accept, expected):
    """spaces around ranges and parameters, and empty elements, change nothing"""
    expect_choice(exercise, accept, expected, help=SPACES)


# -- GET /orders -------------------------------------------------------------------------


async def get_orders(exercise: Any, accept: str | None) -> Any:
    async with client_for(exercise.app) as client:
        headers = {}
        if accept is None:
            del client.headers["accept"]  # httpx sends Accept: */* unless told otherwise
        else:
            headers["Accept"] = accept
        return await client.get("/orders", headers=headers)


def expect_served(response: Any, media_type: str) -> None:
    expect_status(response, 200)
    expect_header(response, "content-type", CONTENT_TYPES[media_type])
    expect_equal("body", BODIES[media_type], response.content)
    expect_header(response, "vary", "Accept", help="Does every answer carry Vary: Accept?")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (JSON, JSON),
        (CSV, CSV),
        (XML, XML),
        ("text/*", CSV),
        ("*/*, application/json;q=0.1, text/csv;q=0.5", XML),
    ],
    ids=["json", "csv", "xml", "any-text", "specific"],
)
async def test_orders_in_the_chosen_format(exercise, accept, expected):
    """GET /orders answers the chosen format with its content-type and Vary: Accept"""
    response = await get_orders(exercise, accept)
    expect_served(response, expected)


async def test_orders_without_accept(exercise):
    """GET /orders without an Accept header answers JSON, with Vary: Accept"""
    response = await get_orders(exercise, None)
    expect_served(response, JSON)


@pytest.mark.parametrize(
    "accept", ["image/png", "application/json;q=0", "*/json"], ids=["png", "json-q-0", "any-json"]
)
async def test_not_acceptable(exercise, accept):
    """GET /orders answers 406 with the supported types and Vary: Accept"""
    response = await get_orders(exercise, accept)
    expect_status(response, 406, help="Does the route answer 406 when nothing is acceptable?")
    expect_header(response, "content-type", "application/json")
    expect_json(response, NOT_ACCEPTABLE)
    expect_header(
        response,
        "vary",
        "Accept",
        help="The 406 depends on Accept too: does it carry Vary: Accept?",
    )


# -- the OpenAPI document ----------------------------------------------------------------


def responses_of(exercise: Any) -> dict[str, Any]:
    operation = exercise.app.openapi().get("paths", {}).get("/orders", {}).get("get")
    if operation is None:
        raise Failure("expected GET /orders in the OpenAPI document, not missing")
    return operation.get("responses", {})


DOCUMENT = "Does the route decorator declare responses= with the other media types and a 406?"


def test_document_lists_three_media_types(exercise):
    """the OpenAPI document lists JSON, CSV and XML under the 200 response, nothing else"""
    content = responses_of(exercise).get("200", {}).get("content", {})
    expect_equal("media types", sorted([JSON, CSV, XML]), sorted(content), help=DOCUMENT)


def test_document_json_schema(exercise):
    """the OpenAPI document gives a list of Order as the schema of the JSON answer"""
    content = responses_of(exercise).get("200", {}).get("content", {})
    schema = content.get(JSON, {}).get("schema") or {}
    found = {"type": schema.get("type"), "items": schema.get("items")}
    expected = {"type": "array", "items": {"$ref": "#/components/schemas/Order"}}
    expect_equal(
        "schema", expected, found, help="Does the route declare response_model=list[Order]?"
    )


def test_document_lists_406(exercise):
    """the OpenAPI document lists a 406 response for GET /orders"""
    responses = responses_of(exercise)
    expect(
        "406" in responses, "expected a 406 response in the document, not missing", help=DOCUMENT
    )
