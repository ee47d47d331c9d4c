"""Hotel bookings: the dates of a booking must make sense together.

Task: enforce the date rules of the contract, each with its exact error, let the room name
ignore spaces and case, and report the number of nights.

The contract (the checks rely on it):
- `app` (keep this name) serves `POST /bookings`. A valid booking is answered 201 with the
  booking echoed back plus `nights`, the number of nights between `check_in` and `check_out`.
  The OpenAPI schema of that response lists `nights` as an integer. Keep the fields and
  constraints of the model as they are (`guests` is 1 to 4).
- `room` ignores surrounding spaces and letter case (`" Suite "` is `"suite"`); a room that
  is not a string at all gets Pydantic's ordinary `literal_error`, never a crash.
- `check_out` must be after `check_in`, else the 422 body holds exactly one error:
  `{"type": "date_order", "loc": ["body"], "msg": "check_out must be after check_in",
  "input": <the request body>}`.
- A stay lasts at most 14 nights, else exactly one error:
  `{"type": "stay_too_long", "loc": ["body"], "msg": "a stay lasts at most 14 nights",
  "input": <the request body>, "ctx": {"max_nights": 14}}`.
- Errors do not mix: the date rules run only once every field is valid. A booking with
  invalid fields (a date, `room`, `guests`) gets one error per invalid field and no date
  rule error; an invalid date gets its own field error, alone.
"""

from datetime import date
from typing import Annotated, Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field

MAX_NIGHTS = 14


class Booking(BaseModel):
    room: Literal["single", "double", "suite"]
    guests: Annotated[int, Field(ge=1, le=4)]
    check_in: date
    check_out: date

    # TODO: Normalize `room` before it is validated: strip it and lower-case it, if it is a str.
    # TODO: Serialize `nights` (the days from check_in to check_out) as a computed field.
    # TODO: Reject bookings that break the date rules, with the exact errors of the contract.


app = FastAPI()


@app.post("/bookings", status_code=201)
async def create_booking(booking: Booking) -> Booking:
    return booking
