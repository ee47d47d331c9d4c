from collections.abc import AsyncIterable

from fastapi import FastAPI
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel


class Book(BaseModel):
    isbn: str
    title: str


app = FastAPI(title="Bookshop API", version="2.4.0")


@app.get("/books.jsonl")
async def export_books() -> AsyncIterable[Book]:
    yield Book(isbn="9780441013593", title="Dune")


@app.get("/books/arrivals", response_class=EventSourceResponse)
async def arrivals() -> AsyncIterable[Book]:
    yield Book(isbn="9780441013593", title="Dune")
