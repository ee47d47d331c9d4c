"""Hotel bookings: cross-field date rules that answer with exact, stable errors."""

from datetime import date
from typing import Annotated, Any, Literal, Self

from fastapi import FastAPI
from pydantic import BaseModel, Field, computed_field, field_validator, model_validator
from pydantic_core import PydanticCustomError

MAX_NIGHTS = 14


class Booking(BaseModel):
    room: Literal["single", "double", "suite"]
    guests: Annotated[int, Field(ge=1, le=4)]
    check_in: date
    check_out: date

    @field_validator("room", mode="before")
    @classmethod
    def normalize_room(cls, value: Any) -> Any:
        # raw input may be any JSON value: leave non-strings to the Literal's own error
        return value.strip().lower() if isinstance(value, str) else value

    @computed_field
    @property
    def nights(self) -> int:
        return (self.check_out - self.check_in).days

    @model_validator(mode="after")
    def check_dates(self) -> Self:
        # "after" runs only once every field is valid: both dates are real dates here.
        # PydanticCustomError sets the error's type and exact message; ValueError cannot.
        if self.nights < 1:
            raise PydanticCustomError("date_order", "check_out must be after check_in")
        if self.nights > MAX_NIGHTS:
            raise PydanticCustomError(
                "stay_too_long",
                "a stay lasts at most {max_nights} nights",
                {"max_nights": MAX_NIGHTS},
            )
        return self


app = FastAPI()


@app.post("/bookings", status_code=201)
async def create_booking(booking: Booking) -> Booking:
    return booking
