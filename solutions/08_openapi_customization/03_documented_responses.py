"""Examples and documented errors: the document promises exactly what the service answers."""

from decimal import Decimal
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, PositiveInt

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


class Ticket(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"concert_id": "c-1", "holder": "Ada", "seats": 2, "total": "90.00"}]
        }
    )

    concert_id: str
    holder: str
    seats: int
    total: Decimal


class ConcertProblem(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = Problem(title=title, status=status, detail=detail)


def problem_response(description: str) -> dict[str, Any]:
    # written by hand: `model=` would file the schema under application/json
    schema = Problem.model_json_schema(mode="serialization")
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}


NO_CONCERT = problem_response("No concert has this id")
ORDER_EXAMPLES = {
    "one": {"summary": "One seat", "value": {"holder": "Ada", "seats": 1}},
    "group": {
        "summary": "A group of four",
        "description": "Up to the seats left: a larger order is refused whole.",
        "value": {"holder": "Grace", "seats": 4},
    },
}
# the route reads the raw bytes itself, so only openapi_extra can document them
POSTER_BODY = {"required": True, "content": {"image/png": {}, "image/jpeg": {}}}

app = FastAPI()


@app.exception_handler(ConcertProblem)
async def concert_problem(request: Request, exc: ConcertProblem) -> JSONResponse:
    body = exc.problem.model_dump()
    return JSONResponse(body, status_code=exc.problem.status, media_type=PROBLEM_JSON)


def seats_left(concert_id: str) -> int:
    if concert_id not in SEATS_LEFT:
        raise ConcertProblem(404, "Unknown concert", f"No concert has the id {concert_id}.")
    return SEATS_LEFT[concert_id]


@app.post(
    "/concerts/{concert_id}/tickets",
    status_code=201,
    responses={404: NO_CONCERT, 409: problem_response("Not enough seats left")},
)
async def buy_tickets(
    concert_id: str, order: Annotated[TicketOrder, Body(openapi_examples=ORDER_EXAMPLES)]
) -> Ticket:
    left = seats_left(concert_id)
    if order.seats > left:
        raise ConcertProblem(409, "Sold out", f"Only {left} seats are left.")
    SEATS_LEFT[concert_id] = left - order.seats
    total = PRICE * order.seats
    return Ticket(concert_id=concert_id, holder=order.holder, seats=order.seats, total=total)


@app.put(
    "/concerts/{concert_id}/poster",
    responses={404: NO_CONCERT, 415: problem_response("The poster is not a PNG or JPEG image")},
    openapi_extra={"requestBody": POSTER_BODY},
)
async def upload_poster(concert_id: str, request: Request) -> dict[str, str | int]:
    seats_left(concert_id)
    media_type = request.headers.get("content-type", "")
    if media_type not in POSTER_TYPES:
        raise ConcertProblem(415, "Unsupported poster", "Send a PNG or JPEG image.")
    return {"concert_id": concert_id, "media_type": media_type, "size": len(await request.body())}
