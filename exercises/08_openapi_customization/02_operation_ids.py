"""Operation ids for generated clients: short, unique, and stable when routes move.

Task: the mobile team generates its client from this API's document, and a generated
client names each method after an `operationId`. FastAPI's default ids
(`list_concerts_concerts_get`) repeat the path, so they change whenever a route moves to
another prefix, and `/healthz` gives two operations one id. Write an id scheme, apply it to
the whole app, and write the check that finds ids used twice.

The contract (the checks rely on it):
- `operation_id(route)` (keep this name) returns a route's id: its first tag, a hyphen,
  then its name, e.g. "tickets-cancel_ticket"; a route without tags gets its name alone,
  e.g. "healthz".
  - The name is `route.name`: the function's name, unless the route was given `name=`.
  - The first tag is the first of `route.tags`, the tags as the document lists them: those
    given to `include_router(...)` first, then the router's, then the route's own.
  - Nothing else counts: not the path, the prefix, the methods, nor the order in which
    routes are declared or included.
  - FastAPI calls it with an `APIRoute`, and for the routes of an included router with an
    object that has the same attributes: rely on `route.tags` and `route.name` only.
  The checks call it directly, and in apps of their own built with
  `FastAPI(generate_unique_id_function=operation_id)`.
- `app` (keep this name) gives every operation an id from `operation_id`, except that
  `GET /tickets/{ticket_id}` keeps its explicit `operation_id="getTicket"` (the published
  mobile app calls it). Its document has exactly these operations and ids:

  | operation                            | operationId                    |
  |--------------------------------------|--------------------------------|
  | `GET /concerts`                      | concerts-list_concerts         |
  | `GET /concerts/{concert_id}/tickets` | concerts-list_concert_tickets  |
  | `GET /tickets/{ticket_id}`           | getTicket                      |
  | `DELETE /tickets/{ticket_id}`        | tickets-cancel_ticket          |
  | `GET /healthz`                       | healthz                        |

  `HEAD /healthz` (load balancers probe with it) keeps answering 200 but is left out of
  the document: all the methods of one route share that route's one id. The document is
  valid OpenAPI 3.1 (`openapi_spec_validator.validate` accepts it). Every route keeps
  answering exactly as it does now. The checks read the document served at
  `GET /openapi.json`; a warning FastAPI gives while building it fails no check.
- `duplicate_operation_ids(document)` (keep this name) takes an OpenAPI document (a dict,
  as `app.openapi()` returns it) and returns a dict: each `operationId` used by two or more
  operations, mapped to the list of those operations. An id used once is not in it; no
  duplicates gives `{}`.
  - Each operation is written "METHOD key": the method in capitals, one space, then the
    path for an operation under `paths`, or the webhook's name for one under `webhooks`,
    e.g. "DELETE /tickets/{ticket_id}", "POST ticket-sold".
  - The list is in document order: `paths` in their order, the methods of each path item
    in their order, then `webhooks` the same way.
  - Only the members of a path item named `get`, `put`, `post`, `delete`, `options`,
    `head`, `patch` or `trace` are operations: others (`summary`, `parameters`, `servers`,
    `x-...` extensions) are skipped, whatever they hold.
  - An operation without an `operationId` is skipped; an empty one (`""`) is an id like
    any other. A document may lack `paths` or `webhooks`. Callbacks inside operations are
    not looked at.
"""

from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.routing import APIRoute
from fastapi.utils import generate_unique_id
from pydantic import BaseModel


class Ticket(BaseModel):
    id: int
    concert_id: str
    holder: str


TICKETS = {1: Ticket(id=1, concert_id="c-1", holder="Ada")}


def operation_id(route: APIRoute) -> str:
    # TODO: Return the first tag, a hyphen and the route's name; the name alone untagged.
    return generate_unique_id(route)


def duplicate_operation_ids(document: dict[str, Any]) -> dict[str, list[str]]:
    # TODO: Map each operationId used more than once to its operations, in document order.
    return {}


# TODO: Make the app give every operation its id from operation_id.
app = FastAPI()
concerts = APIRouter(prefix="/concerts", tags=["concerts"])
tickets = APIRouter(prefix="/tickets", tags=["tickets"])


@concerts.get("")
async def list_concerts() -> list[str]:
    return ["c-1", "c-2"]


@concerts.get("/{concert_id}/tickets", tags=["tickets"])
async def list_concert_tickets(concert_id: str) -> list[Ticket]:
    return [ticket for ticket in TICKETS.values() if ticket.concert_id == concert_id]


@tickets.get("/{ticket_id}", operation_id="getTicket")  # published: the mobile app calls it
async def read_ticket(ticket_id: int) -> Ticket:
    if ticket_id not in TICKETS:
        raise HTTPException(404, "No such ticket.")
    return TICKETS[ticket_id]


@tickets.delete("/{ticket_id}", status_code=204)
async def cancel_ticket(ticket_id: int) -> None:
    TICKETS.pop(ticket_id, None)


app.include_router(concerts)
app.include_router(tickets)


# TODO: Document GET /healthz only; HEAD /healthz must keep answering.
@app.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
