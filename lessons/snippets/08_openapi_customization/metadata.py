from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel


class Book(BaseModel):
    isbn: str
    title: str


# --8<-- [start:app]
TAGS = [
    {"name": "books", "description": "The catalogue: what the shop sells."},
    {
        "name": "orders",
        "description": "Orders placed by customers.",
        "externalDocs": {"description": "How orders ship", "url": "https://example.com/shipping"},
    },
]

app = FastAPI(
    title="Bookshop API",
    version="2.4.0",
    summary="Books, stock and orders of a small bookshop.",
    description="Prices are in **cents**. Every list is sorted by title.",
    terms_of_service="https://example.com/terms",
    contact={"name": "Bookshop team", "url": "https://example.com", "email": "api@example.com"},
    license_info={"name": "Apache 2.0", "identifier": "Apache-2.0"},
    openapi_tags=TAGS,
)
# --8<-- [end:app]


# --8<-- [start:routes]
@app.get("/books", tags=["books"])
async def list_books() -> list[Book]:
    """List the books in stock.

    Books that are out of print are left out.
    \f
    Reads the replica, never the primary.
    """
    return []


@app.get("/books/search", tags=["books"], deprecated=True)
async def search_books(q: str) -> list[Book]:
    """Use `GET /books?q=` instead."""
    return []


@app.post("/orders", tags=["orders"], status_code=201, summary="Place an order")
async def create_order(isbn: str) -> dict[str, str]:
    return {"isbn": isbn}


@app.get("/healthz", include_in_schema=False)
async def health() -> dict[str, str]:
    return {"status": "ok"}


# --8<-- [end:routes]
# --8<-- [start:undeclared]
def undeclared_tags(document: dict[str, Any]) -> set[str]:
    """Tags that operations use but the document's `tags` list does not describe."""
    declared = {tag["name"] for tag in document.get("tags", [])}
    used = {
        tag
        for path_item in document["paths"].values()
        for operation in path_item.values()
        for tag in operation.get("tags", [])
    }
    return used - declared


# --8<-- [end:undeclared]
