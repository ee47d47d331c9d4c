"""Redacted 422s: a validation error must not hand a client's secrets back.

Task: FastAPI's 422 echoes what was sent under `input`: the password that was too short, the
card number that did not match and, when a header model misses a field, every header of the
request, `Authorization` included. Add a handler for `RequestValidationError` that answers
FastAPI's own 422, with the secrets in `input` redacted.

The contract (the checks rely on it):
- `app` (keep this name) serves `POST /signups` (201), `POST /payments` (201) and `GET /me`
  (200, the headers read through the `ClientHeaders` model). Keep the models and routes as
  they are.
- The secret names are `password`, `card_number`, `authorization` and `cookie`, compared
  without regard to letter case (`Password` is secret). Only whole names count:
  `password_hint` and `x-cookie-consent` are not secret.
- Redacting replaces a value with the string `"[redacted]"`, whatever the value was: a
  string, a number, null, a list or an object.
- An invalid request is answered 422 with FastAPI's body, `{"detail": [...]}`: one entry per
  error, in FastAPI's order, each with FastAPI's `type`, `loc`, `msg` and `ctx` (only when
  FastAPI gives one). Only `input` may differ, and only in these two ways:
  - An error whose `loc` ends with a secret name has `"input": "[redacted]"`, whatever the
    input was: a password that is too short, a card number at
    `["body", "card", "card_number"]`, a malformed `Authorization` header, and a missing
    secret field too, whose input is the object (or all the headers) around it.
  - Any other error keeps its input, except that inside it, at any depth (objects nested in
    objects or in lists), the value of every secret key is `"[redacted]"`. This covers a
    missing field (its input is the enclosing object), a rule of the model (its input is the
    whole body) and a missing header (its input is every header of the request).
- Valid requests are served as before, and errors without secrets come back unchanged.
"""

from typing import Annotated, Any, Self

from fastapi import FastAPI, Header
from pydantic import BaseModel, Field, model_validator

SECRET_NAMES = frozenset({"password", "card_number", "authorization", "cookie"})
REDACTED = "[redacted]"


class Signup(BaseModel):
    username: str
    password: Annotated[str, Field(min_length=12)]
    password_hint: str | None = None

    @model_validator(mode="after")
    def password_avoids_username(self) -> Self:
        if self.username in self.password:
            raise ValueError("the password must not contain the username")
        return self


class Card(BaseModel):
    card_number: Annotated[str, Field(pattern=r"^\d{16}$")]
    holder: str


class Payment(BaseModel):
    amount_cents: int
    card: Card


class ClientHeaders(BaseModel):
    authorization: Annotated[str, Field(pattern=r"^Bearer \S+$")]
    x_client_id: str


def redact(error: dict[str, Any]) -> dict[str, Any]:
    # TODO: Return the error with its `input` redacted as the contract says.
    return error


app = FastAPI()

# TODO: Register a handler for RequestValidationError that answers 422 with
#       {"detail": [redact(error) for each error]}, encoded as FastAPI's own handler does.


@app.post("/signups", status_code=201)
async def sign_up(signup: Signup) -> dict[str, str]:
    return {"username": signup.username}


@app.post("/payments", status_code=201)
async def pay(payment: Payment) -> dict[str, int]:
    return {"amount_cents": payment.amount_cents}


@app.get("/me")
async def me(headers: Annotated[ClientHeaders, Header()]) -> dict[str, str]:
    return {"client_id": headers.x_client_id}
