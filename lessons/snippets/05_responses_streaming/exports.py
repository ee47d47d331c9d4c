import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence

from fastapi import FastAPI, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel


class Book(BaseModel):
    isbn: str
    title: str
    author: str
    price: float | None


BOOKS = [
    Book(isbn="9780441013593", title="Dune", author="Frank Herbert", price=9.99),
    Book(isbn="9781861972712", title="Eats, Shoots & Leaves", author="Lynne Truss", price=None),
    Book(isbn="9780261102217", title='The "Hobbit"', author="J. R. R. Tolkien", price=8.5),
    Book(isbn="9782070360024", title="L'Étranger", author="Albert Camus", price=7.2),
]


def books_by(author: str | None) -> list[Book]:
    return [book for book in BOOKS if author in (None, book.author)]


# --8<-- [start:csv]
class CSVResponse(Response):
    media_type = "text/csv"

    def render(self, content: Iterable[Sequence[object]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer).writerows(content)
        return buffer.getvalue().encode(self.charset)


app = FastAPI()


@app.get("/books.csv", response_class=CSVResponse)
async def export_csv(author: str | None = None) -> CSVResponse:
    rows = [list(Book.model_fields), *(book.model_dump().values() for book in books_by(author))]
    return CSVResponse(rows, headers={"Content-Disposition": 'attachment; filename="books.csv"'})


# --8<-- [end:csv]
# --8<-- [start:jsonl]
@app.get("/books.jsonl")
async def export_jsonl(author: str | None = None) -> AsyncIterable[Book]:
    for book in books_by(author):
        yield book


class NDJSONResponse(StreamingResponse):
    media_type = "application/x-ndjson"


@app.get("/books.ndjson", response_class=NDJSONResponse)
async def export_ndjson(author: str | None = None) -> AsyncIterator[bytes]:
    for book in books_by(author):
        yield book.model_dump_json().encode() + b"\n"


# --8<-- [end:jsonl]
