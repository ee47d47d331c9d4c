from typing import Annotated

from fastapi import Body, FastAPI
from pydantic import BaseModel, ConfigDict, Field


class NewBook(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"isbn": "9780441013593", "title": "Dune", "price_cents": 999}]
        }
    )

    isbn: Annotated[str, Field(pattern=r"^\d{13}$", examples=["9780441013593"])]
    title: str
    price_cents: Annotated[int, Field(ge=0)]


DUNE = {"isbn": "9780441013593", "title": "Dune", "price_cents": 999}
FREE = {"isbn": "9780000000002", "title": "A leaflet", "price_cents": 0}
BookBody = Annotated[
    NewBook,
    Body(
        openapi_examples={
            "dune": {"summary": "A paperback", "value": DUNE},
            "free": {
                "summary": "A free book",
                "description": "A price of 0 is allowed: the shop gives leaflets away.",
                "value": FREE,
            },
        }
    ),
]

app = FastAPI()


@app.post("/books", status_code=201)
async def create_book(book: BookBody) -> NewBook:
    return book
