"""Makes the whole model strict, so the ISO string of a date is refused."""

from datetime import date
from typing import Annotated

from fastapi import FastAPI, Header
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictBool, StrictInt
from pydantic.alias_generators import to_camel


class PartnerHeaders(BaseModel):
    x_partner_id: str


class Order(BaseModel):
    # validate_by_name: our own code still builds these models with snake_case names
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, strict=True)

    order_id: str = Field(validation_alias=AliasChoices("orderId", "order_ref"))
    # strict per field, not per model: FastAPI validates the decoded JSON in Python mode,
    # where a strict model would also refuse the ISO string of a date
    total_cents: Annotated[StrictInt, Field(gt=0)]
    ship_on: date
    gift_wrap: StrictBool = False


class AcceptedOrder(Order):
    partner_id: str


app = FastAPI()


@app.post("/orders", status_code=201)
async def create_order(order: Order, headers: Annotated[PartnerHeaders, Header()]) -> AcceptedOrder:
    return AcceptedOrder(**order.model_dump(), partner_id=headers.x_partner_id)
