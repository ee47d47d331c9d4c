from datetime import date
from typing import Annotated, Any, Self

from fastapi import FastAPI
from pydantic import BaseModel, Field, computed_field, field_validator, model_validator
from pydantic_core import PydanticCustomError


class Coupon(BaseModel):
    code: Annotated[str, Field(pattern=r"^[A-Z0-9]{4,12}$")]
    percent_off: Annotated[int, Field(ge=1, le=90)]
    valid_from: date
    valid_until: date

    @field_validator("code", mode="before")
    @classmethod
    def normalize_code(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def check_window(self) -> Self:
        if self.valid_until < self.valid_from:
            raise PydanticCustomError(
                "window_order",
                "valid_until must not be before valid_from",
            )
        return self

    @computed_field
    @property
    def days(self) -> int:
        return (self.valid_until - self.valid_from).days + 1


app = FastAPI()


@app.post("/coupons", status_code=201)
async def create_coupon(coupon: Coupon) -> Coupon:
    return coupon
