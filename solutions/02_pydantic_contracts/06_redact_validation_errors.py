"""Redacted 422s: FastAPI's validation errors, without the secrets they echo back."""

from typing import Annotated, Any, Self

from fastapi import FastAPI, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


def is_secret(key: Any) -> bool:
    return isinstance(key, str) and key.lower() in SECRET_NAMES


def scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: REDACTED if is_secret(key) else scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


def redact(error: dict[str, Any]) -> dict[str, Any]:
    # `input` echoes what was sent: the secret itself, or every header of the request
    hidden = REDACTED if is_secret(error["loc"][-1]) else scrub(error["input"])
    return {**error, "input": hidden}


app = FastAPI()


@app.exception_handler(RequestValidationError)
async def redacted_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [redact(error) for error in exc.errors()]
    # jsonable_encoder, as FastAPI's own handler: a ValueError's ctx holds the exception
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


@app.post("/signups", status_code=201)
async def sign_up(signup: Signup) -> dict[str, str]:
    return {"username": signup.username}


@app.post("/payments", status_code=201)
async def pay(payment: Payment) -> dict[str, int]:
    return {"amount_cents": payment.amount_cents}


@app.get("/me")
async def me(headers: Annotated[ClientHeaders, Header()]) -> dict[str, str]:
    return {"client_id": headers.x_client_id}
