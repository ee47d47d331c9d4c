"""Metadata and tags: the venue's document says who runs the API and how it is organised."""

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel


class Ticket(BaseModel):
    concert_id: str
    holder: str
    seats: int


CONCERTS = [{"id": "c-1", "artist": "Nina Simone"}, {"id": "c-2", "artist": "Bill Evans"}]
FREE_SEATS = {"c-1": ["A12", "A13"]}
TICKETS = [Ticket(concert_id="c-1", holder="Ada", seats=2)]

# the order of this list is the order in which documentation tools show the groups
TAGS = [
    {"name": "tickets", "description": "Buy tickets and look them up."},
    {
        "name": "concerts",
        "description": "What is on, and when.",
        "externalDocs": {"description": "Seating plans", "url": "https://venue.example.com/seats"},
    },
]

app = FastAPI(
    title="Venue API",
    version="2.3.0",
    summary="Concerts and tickets of the Blue Door venue.",
    description="Times are local to the venue.\n\nPrices are in **cents**.",
    terms_of_service="https://venue.example.com/terms",
    contact={
        "name": "Venue API team",
        "url": "https://venue.example.com/support",
        "email": "api@venue.example.com",
    },
    license_info={"name": "MIT License", "identifier": "MIT"},
    openapi_tags=TAGS,
)
concerts = APIRouter(prefix="/concerts", tags=["concerts"])


@concerts.get("", summary="List concerts")
async def list_concerts() -> list[dict[str, str]]:
    """Concerts from today on, soonest first."""
    return CONCERTS


@concerts.get("/{concert_id}/seats", tags=["tickets"], summary="Free seats of a concert")
async def free_seats(concert_id: str) -> list[str]:
    """The seats nobody has bought yet, such as `A12`."""
    return FREE_SEATS.get(concert_id, [])


app.include_router(concerts)


@app.post("/tickets", tags=["tickets"], status_code=201, summary="Buy tickets")
async def buy_tickets(ticket: Ticket) -> Ticket:
    """Buy seats for a concert.

    Tickets cannot be refunded.
    \f
    Maintainers: the payment provider is called inline here, see ADR 12.
    """
    TICKETS.append(ticket)
    return ticket


@app.get("/tickets", tags=["tickets"], summary="List tickets")
async def list_tickets(holder: str) -> list[Ticket]:
    """The tickets bought by one holder."""
    return [ticket for ticket in TICKETS if ticket.holder == holder]


@app.get("/tickets/search", tags=["tickets"], summary="Search tickets", deprecated=True)
async def search_tickets(holder: str) -> list[Ticket]:
    """Use `GET /tickets?holder=` instead."""
    return await list_tickets(holder)


@app.get("/healthz", include_in_schema=False)
async def health() -> dict[str, str]:
    return {"status": "ok"}
