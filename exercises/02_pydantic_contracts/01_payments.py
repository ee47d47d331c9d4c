"""Polymorphic payments: one endpoint takes a card, a SEPA transfer or a crypto wallet.

Task: let `Payment.method` be any of the three method models, chosen by its `kind` tag
(a discriminated union), and mask card numbers in what the service sends back.

The contract (the checks rely on it):
- `app` (keep this name) serves `POST /payments`. A valid payment is answered 201 with the
  payment echoed back; keep the fields and constraints of the models below as they are.
- `method` is a `Card`, a `Sepa` or a `Crypto` (in this order), picked by its `kind` tag.
  A `kind` that is none of the three (`null` too) is one 422 error of type
  `union_tag_invalid` at `["body", "method"]`; a method without the `kind` key is one
  `union_tag_not_found` error there.
  A bad field is reported under its tag, e.g. `["body", "method", "card", "number"]`.
- The OpenAPI schema describes `method` as `oneOf` the three models, with a `discriminator`
  on `kind` whose `mapping` sends each tag to its model.
- A card number is echoed masked: twelve `*` followed by its last four digits.
"""

from typing import Annotated, Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field, PositiveInt


class Card(BaseModel):
    kind: Literal["card"]
    number: Annotated[str, Field(pattern=r"^\d{16}$")]
    expiry: Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])/\d{2}$")]

    # TODO: Serialize `number` masked: twelve "*" followed by its last four digits.


class Sepa(BaseModel):
    kind: Literal["sepa"]
    iban: Annotated[str, Field(pattern=r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")]


class Crypto(BaseModel):
    kind: Literal["crypto"]
    network: Literal["bitcoin", "ethereum"]
    wallet: Annotated[str, Field(min_length=26, max_length=42)]


class Payment(BaseModel):
    amount_cents: PositiveInt
    currency: Literal["EUR", "USD", "GBP"]
    # TODO: Accept a Card, a Sepa or a Crypto here, picked by the `kind` tag.
    method: Card


app = FastAPI()


@app.post("/payments", status_code=201)
async def create_payment(payment: Payment) -> Payment:
    return payment
