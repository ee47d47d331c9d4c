"""Operation ids for generated clients: short, unique, and stable when routes move."""

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.routing import APIRoute
from pydantic import BaseModel

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class Ticket(BaseModel):
    id: int
    concert_id: str
    holder: str


TICKETS = {1: Ticket(id=1, concert_id="c-1", holder="Ada")}


def operation_id(route: APIRoute) -> str:
    """`tickets-buy_tickets`: the first tag, then the route's name; the name alone untagged."""
    # the path, the prefix, the methods and the order of routes play no part
    if not route.tags:
        return route.name
    return f"{route.tags[0]}-{route.name}"


def duplicate_operation_ids(document: dict[str, Any]) -> dict[str, list[str]]:
    """Each operationId used more than once, with its operations in document order."""
    users: defaultdict[str, list[str]] = defaultdict(list)
    for section in ("paths", "webhooks"):
        for key, path_item in document.get(section, {}).items():
            for method in path_item:
                if method in HTTP_METHODS and "operationId" in path_item[method]:
                    users[path_item[method]["operationId"]].append(f"{method.upper()} {key}")
    return {op_id: names for op_id, names in users.items() if len(names) > 1}


app = FastAPI(generate_unique_id_function=operation_id)
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


# one route per method: a route's methods would all share its one id
@app.get("/healthz")
@app.head("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
