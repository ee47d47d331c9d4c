"""Validation errors as problems: a 422 that says where and why, and never echoes the input."""

from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, PositiveInt

PROBLEM_JSON = "application/problem+json"
VALIDATION_PROBLEM = {
    "type": "https://example.com/problems/validation-error",
    "title": "Request validation failed",
    "status": 422,
    "detail": "The request is not valid; see errors.",
}


class Order(BaseModel):
    items: Annotated[dict[str, PositiveInt], Field(min_length=1)]  # product path -> quantity
    notes: list[str] = []
    coupon: Annotated[str | None, Field(pattern=r"^[A-Z0-9]{8}$")] = None


def pointer(error: dict[str, Any]) -> str:
    # a JSON body that does not parse ends its loc with a character offset, not a member
    loc = error["loc"][:1] if error["type"] == "json_invalid" else error["loc"]
    # RFC 6901: escape "~" before "/", or the "~1" made for "/" would become "~01"
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)


app = FastAPI()


@app.exception_handler(RequestValidationError)
async def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    # only where and why: `input` and `ctx` may hold what the client sent
    errors = [
        {"pointer": pointer(error), "type": error["type"], "message": error["msg"]}
        for error in exc.errors()
    ]
    body = VALIDATION_PROBLEM | {"instance": request.url.path, "errors": errors}
    return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)


@app.post("/orders", status_code=201)
async def place_order(order: Order) -> dict[str, int]:
    return {"lines": len(order.items)}


@app.get("/orders/{order_id}")
async def read_order(
    order_id: int,
    x_api_key: Annotated[str, Header(min_length=8)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, int]:
    return {"id": order_id, "limit": limit}
