"""Hidden suite for 08_openapi_customization/01_metadata_and_tags: info, tags, operations."""

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import openapi_spec_validator  # noqa: F401  (seconds to import: at collection, not in a check)
import pytest

from workbook.openapi_checks import expect_valid_openapi, fetch_document, operations
from workbook.testing import (
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_keys,
    expect_status,
)

INFO = {
    "title": "Venue API",
    "version": "2.3.0",
    "summary": "Concerts and tickets of the Blue Door venue.",
    "description": "Times are local to the venue.\n\nPrices are in **cents**.",
    "termsOfService": "https://venue.example.com/terms",
    "contact": {
        "name": "Venue API team",
        "url": "https://venue.example.com/support",
        "email": "api@venue.example.com",
    },
    "license": {"name": "MIT License", "identifier": "MIT"},
}
TICKETS_TAG = {"name": "tickets", "description": "Buy tickets and look them up."}
CONCERTS_TAG = {
    "name": "concerts",
    "description": "What is on, and when.",
    "externalDocs": {"description": "Seating plans", "url": "https://venue.example.com/seats"},
}
TAGS = [TICKETS_TAG, CONCERTS_TAG]

BUY_DESCRIPTION = "Buy seats for a concert.\n\nTickets cannot be refunded."
MAINTAINERS_NOTE = "Maintainers: the payment provider is called inline here, see ADR 12."
# operation: (tags, summary, description)
OPERATIONS = {
    "GET /concerts": (["concerts"], "List concerts", "Concerts from today on, soonest first."),
    "GET /concerts/{concert_id}/seats": (
        ["concerts", "tickets"],
        "Free seats of a concert",
        "The seats nobody has bought yet, such as `A12`.",
    ),
    "POST /tickets": (["tickets"], "Buy tickets", BUY_DESCRIPTION),
    "GET /tickets": (["tickets"], "List tickets", "The tickets bought by one holder."),
    "GET /tickets/search": (
        ["tickets"],
        "Search tickets",
        "Use `GET /tickets?holder=` instead.",
    ),
}
DEPRECATED = "GET /tickets/search"
GIVEN_DOCSTRING = "the stub's docstrings already are these descriptions"

ADA = {"concert_id": "c-1", "holder": "Ada", "seats": 2}
GRACE = {"concert_id": "c-2", "holder": "Grace", "seats": 1}

NOT_BUILT = (
    "FastAPI builds the document on the first request to /openapi.json: an error there means "
    "it refused a value, such as a contact email that is not an email address."
)
INVALID = "The validator names the member it refuses: which argument of FastAPI(...) wrote it?"
LICENSE = (
    "OpenAPI 3.1 gives a license an SPDX `identifier` or a `url`, never both: is "
    "license_info given exactly the name and the identifier?"
)
TERMS = "FastAPI(terms_of_service=...) writes info.termsOfService."
TAG_ORDER = "The document lists tags in the order of FastAPI(openapi_tags=[...]): is tickets first?"
ROUTER_TAGS = (
    "A router's tags come first, then the route's own: does the concerts router carry the "
    "`concerts` tag and the seats route add only `tickets`?"
)
FORM_FEED = (
    "FastAPI cuts a docstring at a form feed (\\f): what follows it stays in the code and never "
    "reaches the document. Does the maintainers' paragraph come after one?"
)
HIDDEN = (
    "include_in_schema=False leaves a route out of the document and keeps it serving: is "
    "/healthz still in the document, or was another route removed?"
)
NOTE_KEPT = (
    "The maintainers' paragraph leaves the document, not the docstring: was it deleted? "
    "After a form feed (\\f), it stays in the docstring and out of the document."
)
DEPRECATED_HELP = (
    "deprecated=True on the route marks its operation; the route keeps answering as before."
)
STILL_SERVED = "Documenting a route must not change its answer: was the route changed or removed?"
NO_NEW_RULES = (
    "Documenting a model must not change what it accepts: did a Field(...) add a rule, such "
    "as gt=0, to Ticket?"
)


def operation(document: dict[str, Any], name: str) -> dict[str, Any]:
    found = operations(document).get(name)
    if found is None:
        raise Failure(f"expected the operation {name} in the document, not nothing", help=HIDDEN)
    return found


@pytest.fixture
async def document(exercise: ModuleType) -> dict[str, Any]:
    return await fetch_document(exercise.app, help=NOT_BUILT)


@pytest.fixture(autouse=True)
def tickets(exercise: ModuleType) -> Iterator[list[Any]]:
    """The exercise's TICKETS, restored after each check (buying changes it)."""
    saved = list(exercise.TICKETS)
    yield exercise.TICKETS
    exercise.TICKETS[:] = saved


# -- the document as a whole ----------------------------------------------------------------


@pytest.mark.stub_may_pass("FastAPI's bare default document is valid OpenAPI 3.1")
def test_document_is_valid_openapi(document):
    """the document is valid OpenAPI 3.1"""
    expect_valid_openapi(document, help=INVALID)


@pytest.mark.parametrize("member", list(INFO))
def test_info_member(document, member):
    """each member of info has exactly the contract's value"""
    actual = document.get("info", {}).get(member)
    help = None
    if member == "termsOfService":
        help = TERMS
    elif member == "license" and isinstance(actual, dict) and "url" in actual:
        help = LICENSE
    expect_equal(f"info.{member}", INFO[member], actual, help=help)


def test_info_has_only_the_seven_members(document):
    """info holds the seven members of the contract and nothing else"""
    expect_keys("info", set(INFO), document.get("info", {}))


def test_tags_are_declared(document):
    """both tags are declared, with their descriptions and their link"""
    declared = {tag.get("name"): tag for tag in document.get("tags", [])}
    expected = {tag["name"]: tag for tag in TAGS}
    expect_equal("declared tags", expected, declared)


def test_tags_are_in_order(document):
    """the tags list has tickets first, then concerts"""
    names = [tag.get("name") for tag in document.get("tags", [])]
    expect_equal("tag names, in order", ["tickets", "concerts"], names, help=TAG_ORDER)


# -- each operation -------------------------------------------------------------------------


def test_documented_operations(document):
    """the document has the five operations, and /healthz is not in it"""
    expect_equal("operations", sorted(OPERATIONS), sorted(operations(document)), help=HIDDEN)


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_operation_tags(document, name):
    """each operation has exactly its tags"""
    help = ROUTER_TAGS if "seats" in name else None
    tags = operation(document, name).get("tags")
    expect_equal(f"tags of {name}", OPERATIONS[name][0], tags, help=help)


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_operation_summary(document, name):
    """each operation has exactly its summary"""
    summary = operation(document, name).get("summary")
    expect_equal(f"summary of {name}", OPERATIONS[name][1], summary)


@pytest.mark.parametrize(
    "name",
    [
        name
        if name == "POST /tickets"
        else pytest.param(name, marks=pytest.mark.stub_may_pass(GIVEN_DOCSTRING))
        for name in OPERATIONS
    ],
)
def test_operation_description(document, name):
    """each description is the docstring, without the maintainers' paragraph"""
    description = operation(document, name).get("description")
    help = FORM_FEED if "Maintainers" in str(description) else None
    expect_equal(f"description of {name}", OPERATIONS[name][2], description, help=help)


@pytest.mark.stub_may_pass("the stub's docstring has the paragraph")
def test_maintainers_note_stays_in_the_code(exercise):
    """the maintainers' paragraph stays in buy_tickets' docstring"""
    docstring = exercise.buy_tickets.__doc__ or ""
    expect(
        MAINTAINERS_NOTE in docstring,
        f"expected buy_tickets' docstring to keep {MAINTAINERS_NOTE!r}",
        help=NOTE_KEPT,
    )


def test_only_search_is_deprecated(document):
    """GET /tickets/search is marked deprecated, and no other operation is"""
    marked = {
        name: operation.get("deprecated")
        for name, operation in operations(document).items()
        if "deprecated" in operation
    }
    expect_equal("deprecated operations", {DEPRECATED: True}, marked, help=DEPRECATED_HELP)


# -- the routes still answer ----------------------------------------------------------------


@pytest.mark.stub_may_pass("the routes are given: they answer on the stub too")
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "/concerts",
            [{"id": "c-1", "artist": "Nina Simone"}, {"id": "c-2", "artist": "Bill Evans"}],
        ),
        ("/concerts/c-1/seats", ["A12", "A13"]),
        ("/concerts/c-2/seats", []),
        ("/concerts/c-9/seats", []),
        ("/tickets?holder=Ada", [ADA]),
        ("/tickets?holder=Grace", []),
        ("/tickets/search?holder=Ada", [ADA]),
        ("/healthz", {"status": "ok"}),
    ],
    ids=[
        "concerts",
        "seats",
        "no-seats",
        "unknown-concert",
        "tickets",
        "no-tickets",
        "search",
        "healthz",
    ],
)
async def test_routes_still_answer(exercise, url, expected):
    """every route, the deprecated and the hidden one included, answers as before"""
    async with client_for(exercise.app) as client:
        response = await client.get(url)
    expect_status(response, 200, help=STILL_SERVED)
    expect_json(response, expected, help=STILL_SERVED)


@pytest.mark.stub_may_pass("the routes are given: they answer on the stub too")
async def test_buying_still_works(exercise):
    """buying tickets still answers 201 with the ticket, and the ticket is listed after"""
    async with client_for(exercise.app) as client:
        response = await client.post("/tickets", json=GRACE)
        expect_status(response, 201, help=STILL_SERVED)
        expect_json(response, GRACE, help=STILL_SERVED)
        response = await client.get("/tickets/search", params={"holder": "Grace"})
    expect_json(response, [GRACE], help=STILL_SERVED)


@pytest.mark.stub_may_pass("the routes are given: they answer on the stub too")
async def test_buying_accepts_what_it_accepted(exercise):
    """an order the route accepted before, zero seats included, is still accepted"""
    order = {"concert_id": "c-1", "holder": "Grace", "seats": 0}
    async with client_for(exercise.app) as client:
        response = await client.post("/tickets", json=order)
    expect_status(response, 201, help=NO_NEW_RULES)
    expect_json(response, order, help=NO_NEW_RULES)
