r"""Metadata and tags: the venue's document says who runs the API and how it is organised.

Task: the venue's API works, but its OpenAPI document (`GET /openapi.json`) is FastAPI's
bare default: titled "FastAPI", version 0.1.0, operations in no group. Fill in the
metadata, declare the tags and document each operation, without changing what any route
answers.

The contract (the checks read the document served at `GET /openapi.json`):
- `app`, `Ticket`, `CONCERTS`, `FREE_SEATS`, `TICKETS` and the route functions are given
  (keep these names). Every route keeps answering exactly as it does now, `/healthz`
  included; the document stays valid OpenAPI 3.1 (`openapi_spec_validator.validate`
  accepts it).
- `info` holds exactly these seven members, with exactly these values:
  - `title`: "Venue API"; `version`: "2.3.0"
  - `summary`: "Concerts and tickets of the Blue Door venue."
  - `description`: "Times are local to the venue.\n\nPrices are in **cents**."
    (two lines of Markdown with an empty line between them)
  - `termsOfService`: "https://venue.example.com/terms"
  - `contact`: {"name": "Venue API team", "url": "https://venue.example.com/support",
    "email": "api@venue.example.com"}
  - `license`: {"name": "MIT License", "identifier": "MIT"}, an SPDX identifier and
    no `url` (OpenAPI 3.1 allows one or the other, not both)
- The document's `tags` list is exactly, in this order (tickets first: most readers come
  to buy):
  1. {"name": "tickets", "description": "Buy tickets and look them up."}
  2. {"name": "concerts", "description": "What is on, and when.", "externalDocs":
     {"description": "Seating plans", "url": "https://venue.example.com/seats"}}
- The document has exactly these five operations, with exactly these `tags` and
  `summary` values:

  | operation                          | tags                    | summary                  |
  |------------------------------------|-------------------------|--------------------------|
  | `GET /concerts`                    | ["concerts"]            | List concerts            |
  | `GET /concerts/{concert_id}/seats` | ["concerts", "tickets"] | Free seats of a concert  |
  | `POST /tickets`                    | ["tickets"]             | Buy tickets              |
  | `GET /tickets`                     | ["tickets"]             | List tickets             |
  | `GET /tickets/search`              | ["tickets"]             | Search tickets           |

  Each operation's `description` is its function's docstring, except that the
  paragraph for maintainers in `buy_tickets`' docstring stays in that docstring (the
  checks read `buy_tickets.__doc__`) and never reaches the document: the description of
  `POST /tickets` is exactly "Buy seats for a concert.\n\nTickets cannot be refunded."
- `GET /tickets/search` is marked `"deprecated": true`; no other operation is marked
  deprecated. It still answers exactly like `GET /tickets`.
- `GET /healthz` is not in the document at all, and still answers 200 `{"status": "ok"}`.
- Operation ids, parameters and response schemas are not graded here: leave them to
  FastAPI.
"""

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel


class Ticket(BaseModel):
    concert_id: str
    holder: str
    seats: int


CONCERTS = [{"id": "c-1", "artist": "Nina Simone"}, {"id": "c-2", "artist": "Bill Evans"}]
FREE_SEATS = {"c-1": ["A12", "A13"]}
TICKETS = [Ticket(concert_id="c-1", holder="Ada", seats=2)]

# TODO: Declare the two tags, with their descriptions and links, in the order of the contract.

# TODO: Give the app its title, version, summary, description, terms, contact and license.
app = FastAPI()
concerts = APIRouter(prefix="/concerts")
# TODO: Give every operation its tags and its summary.


@concerts.get("")
async def list_concerts() -> list[dict[str, str]]:
    """Concerts from today on, soonest first."""
    return CONCERTS


@concerts.get("/{concert_id}/seats")
async def free_seats(concert_id: str) -> list[str]:
    """The seats nobody has bought yet, such as `A12`."""
    return FREE_SEATS.get(concert_id, [])


app.include_router(concerts)


@app.post("/tickets", status_code=201)
async def buy_tickets(ticket: Ticket) -> Ticket:
    """Buy seats for a concert.

    Tickets cannot be refunded.

    Maintainers: the payment provider is called inline here, see ADR 12.
    """
    # TODO: Keep the paragraph for maintainers in this docstring, out of the document.
    TICKETS.append(ticket)
    return ticket


@app.get("/tickets")
async def list_tickets(holder: str) -> list[Ticket]:
    """The tickets bought by one holder."""
    return [ticket for ticket in TICKETS if ticket.holder == holder]


# TODO: Mark this operation deprecated in the document.
@app.get("/tickets/search")
async def search_tickets(holder: str) -> list[Ticket]:
    """Use `GET /tickets?holder=` instead."""
    return await list_tickets(holder)


# TODO: Leave the health check out of the document; it must keep answering.
@app.get("/healthz")
async def health() -> dict[str, str]:
    return {"status": "ok"}
