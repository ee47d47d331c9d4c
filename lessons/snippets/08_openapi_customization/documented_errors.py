from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from openapi_schema_validator import OAS31Validator
from pydantic import BaseModel

PROBLEM_JSON = "application/problem+json"


class Book(BaseModel):
    isbn: str
    title: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str


class NoSuchBook(Exception):
    pass


BOOKS = {"9780441013593": Book(isbn="9780441013593", title="Dune")}
app = FastAPI()


@app.exception_handler(NoSuchBook)
async def no_such_book(request: Request, exc: NoSuchBook) -> JSONResponse:
    problem = Problem(title="Not Found", status=404, detail=f"No book has ISBN {exc}.")
    return JSONResponse(problem.model_dump(), status_code=404, media_type=PROBLEM_JSON)


# --8<-- [start:wrong]
@app.get("/v1/books/{isbn}", responses={404: {"model": Problem, "content": {PROBLEM_JSON: {}}}})
async def read_book_v1(isbn: str) -> Book:
    return await read_book(isbn)


# --8<-- [end:wrong]
# --8<-- [start:right]
def problem(description: str, example: dict[str, Any]) -> dict[str, Any]:
    """A documented error answer: the Problem model under application/problem+json."""
    schema = Problem.model_json_schema(mode="serialization")
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": schema, "example": example}},
    }


NOT_FOUND = {"title": "Not Found", "status": 404, "detail": "No book has ISBN 9780000000000."}


@app.get("/books/{isbn}", responses={404: problem("No book has this ISBN", NOT_FOUND)})
async def read_book(isbn: str) -> Book:
    if isbn not in BOOKS:
        raise NoSuchBook(isbn)
    return BOOKS[isbn]


# --8<-- [end:right]
# --8<-- [start:conforms]
def schema_errors(document: dict[str, Any], schema: dict[str, Any], body: Any) -> list[str]:
    """Why `body` does not fit `schema`, a schema taken from `document` (empty: it fits)."""
    # the components travel with the schema, so that its "#/components/..." refs resolve
    validator = OAS31Validator({**schema, "components": document.get("components", {})})
    return [error.message for error in validator.iter_errors(body)]


# --8<-- [end:conforms]
