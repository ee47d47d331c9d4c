from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


def pointer(loc: tuple[int | str, ...]) -> str:
    """A JSON Pointer (RFC 6901) to the value: ("body", "labels", "a/b") -> "/body/labels/a~1b"."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)


def reshape(error: dict[str, Any]) -> dict[str, str]:
    loc = error["loc"][:1] if error["type"] == "json_invalid" else error["loc"]  # (body, offset)
    return {"pointer": pointer(loc), "type": error["type"], "message": error["msg"]}


async def validation_problem(request: Request, exc: RequestValidationError) -> ProblemResponse:
    problem = {
        "type": "https://bank.example/problems/invalid-request",
        "title": "The request is not valid",
        "status": 422,
        "detail": "See errors for each value that was refused.",
        "instance": request.url.path,
        "errors": [reshape(error) for error in exc.errors()],  # never `input` nor `ctx`
    }
    return ProblemResponse(problem, status_code=422)


class Transfer(BaseModel):
    to: str
    amount: Annotated[int, Field(gt=0)]
    labels: dict[str, str] = {}


app = FastAPI()
app.add_exception_handler(RequestValidationError, validation_problem)


@app.post("/accounts/{account_id}/transfers", status_code=201)
async def create_transfer(
    account_id: int,
    transfer: Transfer,
    x_idempotency_key: Annotated[str, Header(min_length=8)],
    dry_run: Annotated[bool, Query()] = False,
) -> Transfer:
    return transfer
