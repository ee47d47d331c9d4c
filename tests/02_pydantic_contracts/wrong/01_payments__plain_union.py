"""Uses a plain union without a discriminator, so every branch reports its errors."""

from typing import Annotated, Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field, PositiveInt, field_serializer


class Card(BaseModel):
    kind: Literal["card"]
    number: Annotated[str, Field(pattern=r"^\d{16}$")]
    expiry: Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])/\d{2}$")]

    @field_serializer("number")
    def mask_number(self, number: str) -> str:
        # input is validated in full, but a card number never leaves the service in full
        return "*" * 12 + number[-4:]


class Sepa(BaseModel):
    kind: Literal["sepa"]
    iban: Annotated[str, Field(pattern=r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")]


class Crypto(BaseModel):
    kind: Literal["crypto"]
    network: Literal["bitcoin", "ethereum"]
    wallet: Annotated[str, Field(min_length=26, max_length=42)]


PaymentMethod = Card | Sepa | Crypto


class Payment(BaseModel):
    amount_cents: PositiveInt
    currency: Literal["EUR", "USD", "GBP"]
    method: PaymentMethod


app = FastAPI()


@app.post("/payments", status_code=201)
async def create_payment(payment: Payment) -> Payment:
    return payment
