"""Partner orders: partners speak camelCase JSON, our Python code speaks snake_case.

Task: give the models camelCase aliases (plus one legacy key), make the two fields whose JSON
type is exact strict, and read the partner id from a header through a header model.

The contract (the checks rely on it):
- `app` (keep this name) serves `POST /orders` with JSON in camelCase: `orderId` (a string),
  `totalCents` (an integer > 0), `shipOn` (an ISO date string) and `giftWrap` (a boolean,
  default false). One legacy partner sends `order_ref` instead of `orderId`: accept it too;
  when both are sent, `orderId` wins. Validation errors name the camelCase keys, e.g.
  `["body", "totalCents"]`, and a missing order id is reported at `["body", "orderId"]`.
- `totalCents` must be a JSON integer and `giftWrap` a JSON boolean: `"1999"` is an
  `int_type` error and `"yes"` a `bool_type` error, not coerced. `shipOn` stays lax: its ISO
  string is accepted and read as a calendar date (`"2026-02-30"` is one error at
  `["body", "shipOn"]`), and it is echoed as the same ISO string.
- The partner sends its id in the `X-Partner-Id` header; without it, the request is a 422
  `missing` error at `["header", "x-partner-id"]`.
- A valid order is answered 201 with the order echoed in camelCase plus `partnerId`.
- The OpenAPI document shows the camelCase keys and the required `x-partner-id` header.
"""

from datetime import date
from typing import Annotated

from fastapi import FastAPI
from pydantic import BaseModel, Field

# TODO: Declare a `PartnerHeaders` model with the partner id header.


class Order(BaseModel):
    # TODO: Generate camelCase aliases, and keep building models by field name in Python.
    # TODO: Accept the legacy key `order_ref` for order_id as well.
    order_id: str
    # TODO: Make total_cents and gift_wrap strict: no coercion from strings.
    total_cents: Annotated[int, Field(gt=0)]
    ship_on: date
    gift_wrap: bool = False


class AcceptedOrder(Order):
    partner_id: str


app = FastAPI()


@app.post("/orders", status_code=201)
async def create_order(order: Order) -> AcceptedOrder:
    # TODO: Take the headers as `Annotated[PartnerHeaders, Header()]` and use the partner id.
    return AcceptedOrder(**order.model_dump(), partner_id="unknown")
