from decimal import Decimal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, computed_field


class Price(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    amount: Decimal
    currency: str = "EUR"


class Book(BaseModel):
    isbn: str
    title: str

    @computed_field
    @property
    def url(self) -> str:
        return f"/books/{self.isbn}"


def create_app(separate_input_output_schemas: bool = True) -> FastAPI:
    app = FastAPI(separate_input_output_schemas=separate_input_output_schemas)

    @app.put("/books/{isbn}/price")
    async def set_price(isbn: str, price: Price) -> Price:
        return price

    @app.post("/books", status_code=201)
    async def create_book(book: Book) -> Book:
        return book

    return app


app = create_app()
