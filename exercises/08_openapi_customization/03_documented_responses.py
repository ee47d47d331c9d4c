"""Examples and documented errors: the document promises exactly what the service answers.

Task: the venue's ticket service answers its errors as problem details
(`application/problem+json`), but its document says nothing about them, has no examples,
describes `total` as "a number or a string" although it is always sent as a string, and
shows the poster upload as taking no body at all. Make the document tell the truth,
without changing what any route answers.

The contract (the checks read the document served at `GET /openapi.json`, then compare it
with the real answers):
- `app`, `Problem`, `TicketOrder`, `Ticket`, `ConcertProblem`, `SEATS_LEFT`, `PRICE` and
  the routes are given (keep these names, the models' fields and what every route
  answers): `POST /concerts/{concert_id}/tickets` with `{"holder", "seats"}` answers 201
  with a `Ticket`; an unknown concert is a 404 problem and more seats than are left a 409
  problem (the body is validated first: an invalid order is FastAPI's 422 whatever the
  concert). `PUT /concerts/{concert_id}/poster` reads the raw image itself: an unknown
  concert is a 404 problem, then a `Content-Type` other than exactly `image/png` or
  `image/jpeg` (in lower case, with no parameters) a 415 problem; otherwise it answers 200
  `{"concert_id", "media_type", "size"}`. Problems are sent with
  `Content-Type: application/problem+json`.
- The operations document exactly these answers, by status:
  - `POST /concerts/{concert_id}/tickets`: "201", "404", "409", "422"
  - `PUT /concerts/{concert_id}/poster`: "200", "404", "415", "422"
  "422" stays as FastAPI writes it. Each error answer of your own is documented with
  exactly one media type, `application/problem+json`, whose schema is the `Problem`
  model's JSON schema (`Problem.model_json_schema()`, written inline, or as a `$ref` to
  that schema in `components.schemas`), and with exactly this `description`:
  - 404 (both operations): "No concert has this id"
  - 409: "Not enough seats left"
  - 415: "The poster is not a PNG or JPEG image"
- Every real answer of these two operations fits the document: its status is documented,
  its `Content-Type` is one of the media types documented for that status, and its body is
  valid against the schema documented for that media type.
- The request body of `POST /concerts/{concert_id}/tickets` has exactly two named
  examples under `application/json` (the `examples` of the Media Type Object):
  - `one`: {"summary": "One seat", "value": {"holder": "Ada", "seats": 1}}
  - `group`: {"summary": "A group of four", "description": "Up to the seats left: a
    larger order is refused whole.", "value": {"holder": "Grace", "seats": 4}}
- The schema of the 201 answer (the `Ticket` schema) has the JSON Schema keyword
  `examples`, exactly
  [{"concert_id": "c-1", "holder": "Ada", "seats": 2, "total": "90.00"}].
- Answers are documented as they are sent: the 201 schema's `properties` and `required`
  are those of `Ticket.model_json_schema(mode="serialization")`, where `total` is a
  string.
- The request body of `PUT /concerts/{concert_id}/poster` is documented exactly as
  {"required": true, "content": {"image/png": {}, "image/jpeg": {}}}
  (an empty Media Type Object: raw bytes, no schema to validate).
- The document stays valid OpenAPI 3.1 (`openapi_spec_validator.validate` accepts it).
  Summaries, operation ids and the 422 answers are not graded.
"""

from decimal import Decimal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, PositiveInt

PROBLEM_JSON = "application/problem+json"
POSTER_TYPES = ("image/png", "image/jpeg")
PRICE = Decimal("45.00")
SEATS_LEFT = {"c-1": 40, "c-2": 2}


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str


class TicketOrder(BaseModel):
    holder: str
    seats: PositiveInt


# TODO: Give the Ticket schema its example, as the model's own JSON Schema `examples`.
class Ticket(BaseModel):
    concert_id: str
    holder: str
    seats: int
    total: Decimal


class ConcertProblem(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = Problem(title=title, status=status, detail=detail)


# TODO: Document each error answer under application/problem+json, with the Problem schema.
# TODO: Document the raw body of the poster upload, which no parameter declares.

# one schema per model, for the client generator
# TODO: Make the answers' schemas describe what the service really sends.
app = FastAPI(separate_input_output_schemas=False)


@app.exception_handler(ConcertProblem)
async def concert_problem(request: Request, exc: ConcertProblem) -> JSONResponse:
    body = exc.problem.model_dump()
    return JSONResponse(body, status_code=exc.problem.status, media_type=PROBLEM_JSON)


def seats_left(concert_id: str) -> int:
    if concert_id not in SEATS_LEFT:
        raise ConcertProblem(404, "Unknown concert", f"No concert has the id {concert_id}.")
    return SEATS_LEFT[concert_id]


# TODO: Give the order two named examples.
@app.post("/concerts/{concert_id}/tickets", status_code=201)
async def buy_tickets(concert_id: str, order: TicketOrder) -> Ticket:
    left = seats_left(concert_id)
    if order.seats > left:
        raise ConcertProblem(409, "Sold out", f"Only {left} seats are left.")
    SEATS_LEFT[concert_id] = left - order.seats
    total = PRICE * order.seats
    return Ticket(concert_id=concert_id, holder=order.holder, seats=order.seats, total=total)


@app.put("/concerts/{concert_id}/poster")
async def upload_poster(concert_id: str, request: Request) -> dict[str, str | int]:
    seats_left(concert_id)
    media_type = request.headers.get("content-type", "")
    if media_type not in POSTER_TYPES:
        raise ConcertProblem(415, "Unsupported poster", "Send a PNG or JPEG image.")
    return {"concert_id": concert_id, "media_type": media_type, "size": len(await request.body())}
