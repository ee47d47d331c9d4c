"""Hidden suite for 08_openapi_customization/04_webhooks_and_callbacks: events documented."""

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import openapi_spec_validator  # noqa: F401  (seconds to import: at collection, not in a check)
import pytest

from workbook.openapi_checks import expect_valid_openapi, fetch_document
from workbook.testing import (
    Failure,
    client_for,
    expect_equal,
    expect_json,
    expect_keys,
    expect_status,
)

SIGNATURE_HELP = "HMAC-SHA256 of the body, keyed with the partner's secret, in hex."
RETRY_NOTE = "Not received: the event is sent again, up to 5 times in 24 hours."
EXPRESSION = "{$request.body#/callback_url}"

# where each event operation is: (section, name) -> (summary, description, body model)
EVENTS = {
    ("webhooks", "ticket-sold"): (
        "Ticket sold",
        "Sent to every partner when one of its customers buys tickets.",
        "TicketSold",
    ),
    ("webhooks", "concert-cancelled"): (
        "Concert cancelled",
        "Sent to every partner when a concert is cancelled: refund its tickets.",
        "ConcertCancelled",
    ),
    ("callbacks", "refund_settled"): (
        "Refund settled",
        "Sent to the refund's callback_url once the refund is paid or refused.",
        "RefundSettled",
    ),
}
EVENT_IDS = [name for _, name in EVENTS]
SUMMARIES = {name: summary for (_, name), (summary, _, _) in EVENTS.items()}
DESCRIPTIONS = {name: description for (_, name), (_, description, _) in EVENTS.items()}
MODELS = {name: model for (_, name), (_, _, model) in EVENTS.items()}
MEMBERS = {"summary", "description", "operationId", "parameters", "requestBody", "responses"}
SIGNATURE = {
    "name": "x-venue-signature",
    "in": "header",
    "required": True,
    "description": SIGNATURE_HELP,
    "schema": {"type": "string"},
}
ANSWERS = {"204": {"description": "Received."}, "default": {"description": RETRY_NOTE}}
SCHEMAS = {
    "TicketSold": {
        "properties": {
            "ticket_id": {"type": "integer", "title": "Ticket Id"},
            "concert_id": {"type": "string", "title": "Concert Id"},
            "seats": {"type": "integer", "title": "Seats"},
        },
        "type": "object",
        "required": ["ticket_id", "concert_id", "seats"],
        "title": "TicketSold",
    },
    "ConcertCancelled": {
        "properties": {
            "concert_id": {"type": "string", "title": "Concert Id"},
            "reason": {"type": "string", "title": "Reason"},
        },
        "type": "object",
        "required": ["concert_id", "reason"],
        "title": "ConcertCancelled",
    },
    "RefundSettled": {
        "properties": {
            "refund_id": {"type": "integer", "title": "Refund Id"},
            "outcome": {"type": "string", "enum": ["paid", "refused"], "title": "Outcome"},
        },
        "type": "object",
        "required": ["refund_id", "outcome"],
        "title": "RefundSettled",
    },
}
ALL_SCHEMAS = {*SCHEMAS, "RefundRequest", "Refund", "HTTPValidationError", "ValidationError"}
PATHS = {"/refunds": ["post"], "/refunds/{refund_id}": ["get"]}
REFUND_REQUEST = {"ticket_id": 7, "callback_url": "https://partner.example.com/refunds"}
REFUND = {"id": 1, "ticket_id": 7, "status": "pending"}

NOT_BUILT = (
    "FastAPI builds the document on the first request to /openapi.json: an error there "
    "means it refused a declaration."
)
INVALID = (
    "The validator names the member it refuses. A path that is not a URL path, such as "
    "a runtime expression under `paths`, means a callback router was included in the app."
)
WEBHOOKS = (
    "A webhook is a route on app.webhooks, whose path is the event's name: "
    "@app.webhooks.post('ticket-sold', ...)."
)
SERVED = (
    "Webhooks and callbacks are documented, never served: are the events declared on "
    "app.webhooks and on a router that is never included, rather than on the app?"
)
CALLBACK = (
    "A callback is a route on a router of its own, given to the operation that triggers it "
    "with callbacks=router.routes; its path is the runtime expression, and its key in the "
    "document is the route's name."
)
CALLBACK_EXPRESSION = (
    "The expression names a field of this operation's request body: "
    "{$request.body#/callback_url}, with the braces, the # and the slash."
)
ONLY_REFUNDS = (
    "callbacks= given to FastAPI(...) or to a router applies to every operation under it: "
    "give it to POST /refunds only."
)
NO_422 = (
    "FastAPI adds its 422 to every operation with a body unless a `4XX` or `default` "
    "answer is declared: does responses= declare the `default` answer?"
)
ANSWER_204 = "status_code=204 and response_description= write the 204 answer."
SIGNATURE_DETAIL = (
    "A header parameter in the event's function, such as x_venue_signature, becomes the "
    "header x-venue-signature; is it a required str, with Header(description=...)?"
)
IN_COMPONENTS = (
    "A model is described under components once an operation of the document, a webhook or "
    "a callback included, has it as its body."
)
BODY = "The event's body model is the type of the function's body parameter."
DOCSTRING = "FastAPI takes an operation's description from its function's docstring."
STILL_SERVED = "The routes are given: was one changed or removed?"
MODELS_GIVEN = "The models are given: keep them as they are, their types and rules included."
UNIQUE_IDS = (
    "An operationId names one operation of the whole document, webhooks and callbacks "
    "included: was an operation_id= copied from another event?"
)


def event_operation(document: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    """The one `post` operation of a webhook, or of a callback of POST /refunds."""
    if section == "webhooks":
        path_item = document.get("webhooks", {}).get(name)
        where, help = f"the webhook {name} in the document's webhooks", WEBHOOKS
    else:
        callback = refunds_operation(document).get("callbacks", {}).get(name, {})
        path_item = callback.get(EXPRESSION)
        where, help = f"the callback {name} of POST /refunds, under {EXPRESSION}", CALLBACK
    if path_item is None:
        raise Failure(f"expected {where}, not nothing", help=help)
    expect_equal(f"methods of {name}", ["post"], list(path_item))
    return path_item["post"]


def every_operation(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, webhook name or callback expression; method; operation) of every operation."""
    path_items = [
        *document.get("paths", {}).items(),
        *document.get("webhooks", {}).items(),
    ]
    while path_items:
        where, path_item = path_items.pop(0)
        for method, operation in path_item.items():
            if isinstance(operation, dict):
                yield where, method, operation
                for callback in operation.get("callbacks", {}).values():
                    path_items.extend(callback.items())


def refunds_operation(document: dict[str, Any]) -> dict[str, Any]:
    found = document.get("paths", {}).get("/refunds", {}).get("post")
    if found is None:
        raise Failure("expected the operation POST /refunds in the document, not nothing")
    return found


@pytest.fixture
async def document(exercise: ModuleType) -> dict[str, Any]:
    return await fetch_document(exercise.app, help=NOT_BUILT, quiet=True)


@pytest.fixture(scope="module")
def missing() -> dict[tuple[str, str], Failure]:
    """Why each event operation could not be found, raised again to every later check of it."""
    return {}


@pytest.fixture
def event(
    request: pytest.FixtureRequest,
    document: dict[str, Any],
    missing: dict[tuple[str, str], Failure],
) -> tuple[str, dict[str, Any]]:
    """(name, operation) of the event named by the parameter; one failure when it is absent."""
    section, name = request.param
    if (section, name) not in missing:
        try:
            return name, event_operation(document, section, name)
        except Failure as exc:
            missing[section, name] = exc
    raise missing[section, name]


@pytest.fixture(autouse=True)
def refunds(exercise: ModuleType) -> Iterator[dict[int, Any]]:
    """The exercise's REFUNDS, emptied before and after each check."""
    exercise.REFUNDS.clear()
    yield exercise.REFUNDS
    exercise.REFUNDS.clear()


# -- the document as a whole ----------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub's document, without events, is valid OpenAPI 3.1")
def test_document_is_valid_openapi(document):
    """the whole document is valid OpenAPI 3.1"""
    expect_valid_openapi(document, help=INVALID)


def test_webhook_names(document):
    """the document's webhooks are exactly ticket-sold and concert-cancelled"""
    names = sorted(document.get("webhooks", {}))
    help = SERVED if "/ticket-sold" in document.get("paths", {}) else WEBHOOKS
    expect_equal("webhook names", ["concert-cancelled", "ticket-sold"], names, help=help)


def test_callback_of_refunds(document):
    """POST /refunds has one callback, refund_settled, sent to the body's callback_url"""
    callbacks = refunds_operation(document).get("callbacks", {})
    expect_equal("callbacks of POST /refunds", ["refund_settled"], list(callbacks), help=CALLBACK)
    expressions = list(callbacks["refund_settled"])
    expect_equal(
        "expressions of the callback refund_settled",
        [EXPRESSION],
        expressions,
        help=CALLBACK_EXPRESSION,
    )


@pytest.mark.stub_may_pass("the stub has no callbacks at all")
def test_no_other_callbacks(document):
    """no operation but POST /refunds has callbacks"""
    others = sorted(
        f"{method.upper()} {path}"
        for path, path_item in document.get("paths", {}).items()
        for method, operation in path_item.items()
        if "callbacks" in operation and (path, method) != ("/refunds", "post")
    )
    expect_equal("other operations with callbacks", [], others, help=ONLY_REFUNDS)


@pytest.mark.stub_may_pass("the stub declares no events, so its paths are already these")
def test_paths_are_the_served_routes(document):
    """paths holds the two refund operations only: events are not served"""
    paths = {path: list(path_item) for path, path_item in document.get("paths", {}).items()}
    expect_equal("paths and their methods", PATHS, paths, help=SERVED)


def test_schemas(document):
    """components.schemas holds the three event models and the four schemas of the routes"""
    expect_keys(
        "components.schemas", ALL_SCHEMAS, document.get("components", {}).get("schemas", {})
    )


@pytest.mark.parametrize("model", list(SCHEMAS))
def test_event_schema(document, model):
    """each event model is described exactly as Pydantic describes it"""
    schema = document.get("components", {}).get("schemas", {}).get(model)
    if schema is None:
        raise Failure(f"expected components.schemas.{model}, not nothing", help=IN_COMPONENTS)
    expect_equal(f"components.schemas.{model}", SCHEMAS[model], schema, help=BODY)


@pytest.mark.stub_may_pass("the stub's models are the given ones")
@pytest.mark.parametrize("model", ["RefundRequest", "Refund"])
async def test_route_schema(exercise, reference, model):
    """the models of the routes are described as given: they are kept as they are"""
    given = await fetch_document(reference.app, help=NOT_BUILT, quiet=True)
    expected = given["components"]["schemas"][model]
    document = await fetch_document(exercise.app, help=NOT_BUILT, quiet=True)
    schema = document.get("components", {}).get("schemas", {})
    expect_equal(f"components.schemas.{model}", expected, schema.get(model), help=MODELS_GIVEN)


@pytest.mark.stub_may_pass("the stub's operations have FastAPI's ids, all different")
def test_operation_ids_are_unique(document):
    """no two operations share an operationId: routes, webhooks and the callback together"""
    users: dict[str, list[str]] = {}
    for where, method, operation in every_operation(document):
        if "operationId" in operation:
            users.setdefault(operation["operationId"], []).append(f"{method.upper()} {where}")
    shared = {op_id: names for op_id, names in users.items() if len(names) > 1}
    expect_equal("operationIds used more than once", {}, shared, help=UNIQUE_IDS)


# -- each event operation -------------------------------------------------------------------


EVENT = pytest.mark.parametrize("event", list(EVENTS), ids=EVENT_IDS, indirect=True)


@EVENT
def test_event_members(event):
    """each event operation holds exactly its six members, and no tags or others"""
    name, operation = event
    expect_keys(f"the operation of {name}", MEMBERS, operation)


@EVENT
def test_event_summary(event):
    """each event operation has exactly its summary"""
    name, operation = event
    expect_equal(f"summary of {name}", SUMMARIES[name], operation.get("summary"))


@EVENT
def test_event_description(event):
    """each event operation has exactly its description"""
    name, operation = event
    description = operation.get("description")
    expect_equal(f"description of {name}", DESCRIPTIONS[name], description, help=DOCSTRING)


@EVENT
def test_event_body(event):
    """each event operation's body is its model, required, as JSON"""
    name, operation = event
    expected = {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{MODELS[name]}"}}
        },
    }
    expect_equal(f"requestBody of {name}", expected, operation.get("requestBody"), help=BODY)


def normalized(parameter: Any) -> Any:
    """A parameter with its name in lower case and its schema cut to its type."""
    if not isinstance(parameter, dict):
        return parameter
    found = dict(parameter)
    if isinstance(found.get("name"), str):
        found["name"] = found["name"].lower()
    if isinstance(found.get("schema"), dict):
        found["schema"] = {"type": found["schema"].get("type")}
    return found


@EVENT
def test_event_signature(event):
    """each event operation documents the required X-Venue-Signature header"""
    name, operation = event
    found = [normalized(parameter) for parameter in operation.get("parameters", [])]
    expect_equal(f"parameters of {name}", [SIGNATURE], found, help=SIGNATURE_DETAIL)


@EVENT
def test_event_answers(event):
    """each event operation documents exactly the partner's 204 and default answers"""
    name, operation = event
    responses = operation.get("responses")
    help = NO_422 if isinstance(responses, dict) and "422" in responses else ANSWER_204
    expect_equal(f"responses of {name}", ANSWERS, responses, help=help)


# -- the routes still answer ----------------------------------------------------------------


@pytest.mark.stub_may_pass("nothing serves the events on the stub either")
@pytest.mark.parametrize("path", ["/ticket-sold", "/concert-cancelled"])
async def test_events_are_not_served(exercise, path):
    """POST to a webhook's name answers 404: the app does not serve its own events"""
    async with client_for(exercise.app) as client:
        response = await client.post(path, json={})
    expect_status(response, 404, help=SERVED)


@pytest.mark.stub_may_pass("the routes are given: they answer on the stub too")
async def test_refunds_still_answer(exercise):
    """requesting a refund answers 202 with it, and the refund can be read back"""
    async with client_for(exercise.app) as client:
        response = await client.post("/refunds", json=REFUND_REQUEST)
        expect_status(response, 202, help=STILL_SERVED)
        expect_json(response, REFUND, help=STILL_SERVED)
        response = await client.get("/refunds/1")
        expect_status(response, 200, help=STILL_SERVED)
        expect_json(response, REFUND, help=STILL_SERVED)
        response = await client.get("/refunds/2")
    expect_status(response, 404, help=STILL_SERVED)
    expect_json(response, {"detail": "No such refund."}, help=STILL_SERVED)


@pytest.mark.stub_may_pass("the routes are given: they answer on the stub too")
async def test_refund_needs_a_url(exercise):
    """a refund request whose callback_url is not a URL is refused with 422, and not kept"""
    order = {**REFUND_REQUEST, "callback_url": "partner refunds"}
    async with client_for(exercise.app) as client:
        response = await client.post("/refunds", json=order)
    expect_status(response, 422, help=MODELS_GIVEN)
    expect_equal("refunds kept", {}, dict(exercise.REFUNDS), help=MODELS_GIVEN)
