"""Validation errors as problems: a 422 of our own design, that never echoes the input.

Task: FastAPI answers an invalid request with its own 422 body, `{"detail": [...]}`, whose
entries echo what was sent (`input`, and `ctx` that can carry it). Register a handler for
`RequestValidationError` that answers with a problem details body instead.

The contract (the checks rely on it):
- `app` (keep this name) serves `POST /orders` (201, `{"lines": <number of items>}`) and
  `GET /orders/{order_id}` (200, `{"id", "limit"}`; header `X-Api-Key` of at least 8
  characters; query `limit` from 1 to 50, 10 when absent). Keep the model and the routes as
  they are: valid requests are served as before.
- Every request that fails validation, wherever the error is (body, path, query, header),
  is answered 422 with `Content-Type: application/problem+json` and exactly these members:
  `"type": "https://example.com/problems/validation-error"`,
  `"title": "Request validation failed"`, `"status": 422`,
  `"detail": "The request is not valid; see errors."`,
  `"instance"`: the request's path (`request.url.path`), without the query string, and
  `"errors"`: one entry per error of `exc.errors()`, in that order (never sorted).
- Each entry has exactly three members: `"type"` and `"message"`, FastAPI's `type` and
  `msg` as they are, and `"pointer"`, a JSON Pointer (RFC 6901) made from FastAPI's `loc`:
  each part, as a string, prefixed with "/" (`["body", "notes", 1]` is "/body/notes/1",
  `["query", "limit"]` is "/query/limit", `["body"]` is "/body"). Inside a part, "~" is
  written "~0" and "/" is written "~1", "~" first: the key "a~/b" is "a~0~1b". Every other
  character is written as it is, never percent-encoded: the key "thé vert" is "thé vert".
- Nothing else of FastAPI's errors appears: no `loc`, `msg`, `input` or `ctx`, so no value
  the client sent (a coupon, a header) is ever echoed.
- A body that is not valid JSON: FastAPI reports one `json_invalid` error whose `loc` ends
  with a character offset, which is not a place in the document; its pointer is "/body".
"""

from typing import Annotated, Any

from fastapi import FastAPI, Header, Query
from pydantic import BaseModel, Field, PositiveInt


class Order(BaseModel):
    items: Annotated[dict[str, PositiveInt], Field(min_length=1)]  # product path -> quantity
    notes: list[str] = []
    coupon: Annotated[str | None, Field(pattern=r"^[A-Z0-9]{8}$")] = None


def pointer(error: dict[str, Any]) -> str:
    # TODO: Build the JSON Pointer of one of FastAPI's errors from its `loc`.
    return ""


app = FastAPI()

# TODO: Register a handler for RequestValidationError that answers the 422 problem, with
#       one entry per error: {"pointer": pointer(error), "type": ..., "message": ...}.


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
