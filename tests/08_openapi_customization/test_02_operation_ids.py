"""Hidden suite for 08_openapi_customization/02_operation_ids: a stable id scheme, no duplicates."""

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import openapi_spec_validator  # noqa: F401  (seconds to import: at collection, not in a check)
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from workbook.openapi_checks import expect_valid_openapi, fetch_document, operations
from workbook.testing import (
    Failure,
    client_for,
    expect_equal,
    expect_json,
    expect_status,
)

GIVEN_IDS = {
    "GET /concerts": "concerts-list_concerts",
    "GET /concerts/{concert_id}/tickets": "concerts-list_concert_tickets",
    "GET /tickets/{ticket_id}": "getTicket",
    "DELETE /tickets/{ticket_id}": "tickets-cancel_ticket",
    "GET /healthz": "healthz",
}
ADA = {"id": 1, "concert_id": "c-1", "holder": "Ada"}

NOT_BUILT = "FastAPI could not build the document: GET /openapi.json failed."
SCHEME = (
    "The id is the first of route.tags, a hyphen, then route.name; route.name alone when "
    "route.tags is empty. Is something else (the path, the methods, the endpoint's "
    "__name__) part of it?"
)
DEFAULT_IDS = (
    "These are FastAPI's default ids: is operation_id given to "
    "FastAPI(generate_unique_id_function=...)?"
)
ONE_ID_PER_ROUTE = (
    "FastAPI gives a route one id, shared by all its methods: is HEAD /healthz a route of "
    "its own, left out of the document with include_in_schema=False?"
)
EXPLICIT_ID = "An explicit operation_id= on a route wins over the scheme: is getTicket kept?"
ORDER = (
    "Does the id depend on what was declared before (a counter, a set of ids already "
    "seen)? It depends on the route's tags and name only."
)
STILL_SERVED = "The routes are given: was one changed or removed?"
DOCUMENT_ORDER = (
    "Are the operations listed in document order, paths first, then webhooks, each "
    "written 'METHOD key' with the method in capitals?"
)
ONLY_METHODS = (
    "Only the eight HTTP method members of a path item are operations: are other members "
    "(summary, parameters, x-... extensions) skipped?"
)

EMPTY_ID = (
    'An operation without an operationId is skipped, but "" is an operationId: is the '
    "member's presence tested ('operationId' in operation), or its truth?"
)
NO_CALLBACKS = (
    "Only the operations of paths and webhooks are looked at: are the operations inside "
    "callbacks left out?"
)


def operation_ids(document: dict[str, Any]) -> dict[str, str | None]:
    """Each operation of the document, keyed "METHOD /path", with its id."""
    return {name: operation.get("operationId") for name, operation in operations(document).items()}


def call(exercise: ModuleType, name: str, *args: Any) -> Any:
    try:
        return getattr(exercise, name)(*args)
    except Exception as exc:
        raise Failure(
            f"{name}(...) raised {type(exc).__name__}: {exc}",
            help=f"Does {name} handle every input the contract describes?",
        ) from None


@pytest.fixture(autouse=True)
def tickets(exercise: ModuleType) -> Iterator[dict[int, Any]]:
    """The exercise's TICKETS, restored after each check (cancelling changes it)."""
    saved = dict(exercise.TICKETS)
    yield exercise.TICKETS
    exercise.TICKETS.clear()
    exercise.TICKETS.update(saved)


# -- operation_id, called directly ----------------------------------------------------------


async def list_rooms() -> list[str]:
    return []


async def read_room(room_id: str) -> str:
    return room_id


async def book_room(room_id: str) -> str:
    return room_id


async def ping() -> str:
    return "pong"


@pytest.mark.parametrize(
    ("path", "methods", "tags", "name", "expected"),
    [
        ("/rooms", ["GET"], ["rooms"], None, "rooms-list_rooms"),
        ("/rooms", ["GET"], ["rooms", "admin"], None, "rooms-list_rooms"),
        ("/v2/halls/rooms", ["POST", "PUT"], ["rooms"], None, "rooms-list_rooms"),
        ("/rooms", ["GET"], [], None, "list_rooms"),
        ("/rooms", ["GET"], ["rooms"], "rooms_index", "rooms-rooms_index"),
        ("/rooms", ["GET"], [], "rooms_index", "rooms_index"),
    ],
    ids=["one-tag", "first-of-two-tags", "other-path-and-methods", "no-tag", "name", "name-only"],
)
def test_operation_id_of_a_route(exercise, path, methods, tags, name, expected):
    """operation_id is the first tag, a hyphen and the route's name; the name alone untagged"""
    route = APIRoute(path, list_rooms, methods=methods, tags=tags, name=name)
    expect_equal(
        f"operation_id of a route tagged {tags}",
        expected,
        call(exercise, "operation_id", route),
        help=SCHEME,
    )


# -- operation_id, in apps of the checks' own -------------------------------------------------


def build_app(exercise: ModuleType, prefix: str, *, reverse: bool = False) -> FastAPI:
    """Rooms under ``prefix``, an admin router included with a tag, and an untagged ping."""
    app = FastAPI(generate_unique_id_function=exercise.operation_id)
    rooms = APIRouter(prefix="/rooms", tags=["rooms"])
    admin = APIRouter(prefix="/admin/rooms", tags=["rooms"])
    declarations = [
        (rooms, "get", "", list_rooms),
        (rooms, "get", "/{room_id}", read_room),
        (admin, "post", "/{room_id}/bookings", book_room),
        (app, "get", "/ping", ping),
    ]
    for router, method, path, endpoint in reversed(declarations) if reverse else declarations:
        getattr(router, method)(path)(endpoint)
    includes = [(rooms, {}), (admin, {"tags": ["admin"]})]
    for router, options in reversed(includes) if reverse else includes:
        app.include_router(router, prefix=prefix, **options)
    return app


def app_ids(prefix: str) -> dict[str, str]:
    return {
        f"GET {prefix}/rooms": "rooms-list_rooms",
        f"GET {prefix}/rooms/{{room_id}}": "rooms-read_room",
        f"POST {prefix}/admin/rooms/{{room_id}}/bookings": "admin-book_room",
        "GET /ping": "ping",
    }


async def test_ids_in_an_app(exercise):
    """in an app, routes of included routers get the scheme, include_router's tags first"""
    document = await fetch_document(build_app(exercise, "/v1"), help=NOT_BUILT, quiet=True)
    expect_equal("operation ids", app_ids("/v1"), operation_ids(document), help=SCHEME)


async def test_ids_do_not_depend_on_the_order(exercise):
    """the ids stay the same when routes and routers are declared in the reverse order"""
    document = await fetch_document(
        build_app(exercise, "/v1", reverse=True), help=NOT_BUILT, quiet=True
    )
    expect_equal("operation ids", app_ids("/v1"), operation_ids(document), help=ORDER)


async def test_ids_do_not_depend_on_the_prefix(exercise):
    """the ids stay the same when the routers move to another prefix"""
    document = await fetch_document(build_app(exercise, "/v2"), help=NOT_BUILT, quiet=True)
    expect_equal("operation ids", app_ids("/v2"), operation_ids(document), help=SCHEME)


# -- the given app --------------------------------------------------------------------------


async def test_given_app_ids(exercise):
    """the app's operations have exactly the ids of the contract"""
    document = await fetch_document(exercise.app, help=NOT_BUILT, quiet=True)
    actual = operation_ids(document)
    help = SCHEME
    if "HEAD /healthz" in actual:
        help = ONE_ID_PER_ROUTE
    elif actual.get("GET /concerts") == "list_concerts_concerts_get":
        help = DEFAULT_IDS
    elif actual.get("GET /tickets/{ticket_id}") != "getTicket":
        help = EXPLICIT_ID
    expect_equal("operation ids", GIVEN_IDS, actual, help=help)


async def test_given_document_is_valid(exercise):
    """the app's document is valid OpenAPI 3.1, with no id used twice"""
    expect_valid_openapi(
        await fetch_document(exercise.app, help=NOT_BUILT, quiet=True), help=ONE_ID_PER_ROUTE
    )


@pytest.mark.stub_may_pass("the given route answers HEAD and GET on the stub too")
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_healthz_still_answers(exercise, method):
    """GET /healthz and HEAD /healthz both answer 200"""
    async with client_for(exercise.app) as client:
        response = await client.request(method, "/healthz")
    expect_status(response, 200, help=STILL_SERVED)
    if method == "GET":
        expect_json(response, {"status": "ok"}, help=STILL_SERVED)


@pytest.mark.stub_may_pass("the routes are given: they answer on the stub too")
@pytest.mark.parametrize(
    ("url", "status", "expected"),
    [
        ("/concerts", 200, ["c-1", "c-2"]),
        ("/concerts/c-1/tickets", 200, [ADA]),
        ("/concerts/c-2/tickets", 200, []),
        ("/tickets/1", 200, ADA),
        ("/tickets/2", 404, {"detail": "No such ticket."}),
    ],
    ids=["concerts", "tickets-of-c-1", "tickets-of-c-2", "ticket", "no-ticket"],
)
async def test_routes_still_answer(exercise, url, status, expected):
    """the given routes answer as before"""
    async with client_for(exercise.app) as client:
        response = await client.get(url)
    expect_status(response, status, help=STILL_SERVED)
    expect_json(response, expected, help=STILL_SERVED)


@pytest.mark.stub_may_pass("the routes are given: they answer on the stub too")
async def test_cancelling_still_works(exercise):
    """cancelling a ticket answers 204, and the ticket is gone"""
    async with client_for(exercise.app) as client:
        response = await client.delete("/tickets/1")
        expect_status(response, 204, help=STILL_SERVED)
        response = await client.get("/tickets/1")
    expect_status(response, 404, help=STILL_SERVED)


# -- duplicate_operation_ids ----------------------------------------------------------------


def op(operation_id: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"responses": {"200": {"description": "OK"}}}
    if operation_id is not None:
        operation["operationId"] = operation_id
    return operation


def expect_duplicates(
    exercise: ModuleType, document: dict[str, Any], expected: Any, help: str | None = None
) -> None:
    """duplicate_operation_ids(document) returns ``expected``; the help only when it found some."""
    actual = call(exercise, "duplicate_operation_ids", document)
    help = help if actual else None
    expect_equal("duplicate_operation_ids(document)", expected, actual, help=help)


@pytest.mark.stub_may_pass("the stub reports no duplicates, which is right here")
def test_no_duplicates(exercise):
    """a document whose ids are all different has no duplicates"""
    document = {
        "paths": {"/tickets": {"get": op("a"), "post": op("b")}, "/concerts": {"get": op("c")}},
        "webhooks": {"ticket-sold": {"post": op("d")}},
    }
    expect_duplicates(exercise, document, {})


def test_duplicates_across_paths(exercise):
    """an id used by two paths is reported with both operations, in document order"""
    document = {
        "paths": {
            "/tickets": {"get": op("once"), "post": op("shared")},
            "/concerts": {"get": op("shared")},
        }
    }
    expected = {"shared": ["POST /tickets", "GET /concerts"]}
    expect_duplicates(exercise, document, expected, DOCUMENT_ORDER)


def test_duplicates_in_one_path_item(exercise):
    """two methods of one path sharing an id are both reported"""
    document = {"paths": {"/healthz": {"head": op("healthz"), "get": op("healthz")}}}
    expected = {"healthz": ["HEAD /healthz", "GET /healthz"]}
    expect_duplicates(exercise, document, expected, DOCUMENT_ORDER)


def test_duplicates_with_webhooks(exercise):
    """an id shared by paths and webhooks is reported, paths first, three uses listed"""
    document = {
        "webhooks": {"ticket-sold": {"post": op("notify")}},
        "paths": {"/tickets": {"post": op("notify")}, "/refunds": {"put": op("notify")}},
    }
    expected = {"notify": ["POST /tickets", "PUT /refunds", "POST ticket-sold"]}
    expect_duplicates(exercise, document, expected, DOCUMENT_ORDER)


def test_duplicates_in_webhooks_only(exercise):
    """a document without paths is searched too"""
    document = {"webhooks": {"sold": {"post": op("event")}, "refunded": {"post": op("event")}}}
    expected = {"event": ["POST sold", "POST refunded"]}
    expect_duplicates(exercise, document, expected, DOCUMENT_ORDER)


def test_only_method_members_are_operations(exercise):
    """members of a path item that are not HTTP methods are skipped, whatever they hold"""
    document = {
        "paths": {
            "/tickets": {
                "summary": "Tickets",
                "parameters": [{"name": "lang", "in": "query", "schema": {"type": "string"}}],
                "x-legacy": {"operationId": "buy"},
                "servers": [{"url": "https://venue.example.com"}],
                "post": op("buy"),
                "patch": op("buy"),
            }
        }
    }
    expected = {"buy": ["POST /tickets", "PATCH /tickets"]}
    expect_duplicates(exercise, document, expected, ONLY_METHODS)


def test_operations_without_ids_are_skipped(exercise):
    """operations without an operationId are never duplicates of each other"""
    document = {
        "paths": {
            "/a": {"get": op(), "put": op("x")},
            "/b": {"get": op(), "delete": op("x")},
            "/c": {"trace": op("y"), "options": op("y")},
        }
    }
    expected = {"x": ["PUT /a", "DELETE /b"], "y": ["TRACE /c", "OPTIONS /c"]}
    expect_duplicates(exercise, document, expected)


def test_empty_id_is_an_id(exercise):
    """an empty operationId is an id like any other: two operations sharing it are reported"""
    document = {"paths": {"/a": {"get": op(""), "post": op("")}, "/b": {"get": op()}}}
    expected = {"": ["GET /a", "POST /a"]}
    expect_duplicates(exercise, document, expected, help=EMPTY_ID)


def test_callbacks_are_not_looked_at(exercise):
    """operations inside callbacks are not looked at, even when they share an id"""
    callback = {"{$request.body#/url}": {"post": op("notify")}}
    document = {
        "paths": {
            "/subscriptions": {"post": {**op("subscribe"), "callbacks": {"event": callback}}},
            "/notifications": {"post": op("notify")},
            "/subscriptions/{id}": {"put": op("subscribe")},
        },
        "webhooks": {"sold": {"post": {**op("sold"), "callbacks": {"event": callback}}}},
    }
    expected = {"subscribe": ["POST /subscriptions", "PUT /subscriptions/{id}"]}
    expect_duplicates(exercise, document, expected, help=NO_CALLBACKS)


async def test_duplicates_in_a_real_document(exercise):
    """a route serving GET and POST under FastAPI's default ids is reported"""
    app = FastAPI()

    @app.api_route("/stock", methods=["GET", "POST"])
    async def stock() -> int:
        return 3

    document = await fetch_document(app, help=NOT_BUILT, quiet=True)
    path_item = document["paths"]["/stock"]
    shared = path_item["get"]["operationId"]
    expected = {shared: [f"{method.upper()} /stock" for method in path_item]}
    expect_duplicates(exercise, document, expected)
