from collections import Counter
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel


# --8<-- [start:scheme]
def tag_and_name(route: APIRoute) -> str:
    """`books-read_book`: the first tag, then the function's name."""
    if not route.tags:
        return route.name
    return f"{route.tags[0]}-{route.name}"


app = FastAPI(generate_unique_id_function=tag_and_name)
# --8<-- [end:scheme]
books = APIRouter(prefix="/v1/books", tags=["books"])


class NewBook(BaseModel):
    isbn: str
    title: str


@books.get("/{isbn}")
async def read_book(isbn: str) -> NewBook:
    return NewBook(isbn=isbn, title="Dune")


@books.post("", status_code=201)
async def create_book(book: NewBook) -> NewBook:
    return book


app.include_router(books)


@app.get("/ping")
async def ping() -> str:
    return "pong"


# --8<-- [start:checker]
def duplicate_operation_ids(document: dict[str, Any]) -> dict[str, int]:
    """Each operationId used more than once in paths and webhooks, with its count."""
    path_items = [*document.get("paths", {}).values(), *document.get("webhooks", {}).values()]
    ids = Counter(
        operation["operationId"]
        for path_item in path_items
        for operation in path_item.values()
        if "operationId" in operation
    )
    return {operation_id: count for operation_id, count in ids.items() if count > 1}


# --8<-- [end:checker]
