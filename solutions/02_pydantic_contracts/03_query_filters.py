"""A product search whose filters are one query-parameter model that refuses unknown filters."""

from operator import attrgetter
from typing import Annotated, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

Category = Literal["books", "games", "music"]


class Product(BaseModel):
    name: str
    category: Category
    price: int
    tags: list[str]


class Filters(BaseModel):
    # a misspelled filter is a client bug: answer 422 instead of silently ignoring it
    model_config = ConfigDict(extra="forbid")

    category: Category | None = None
    tag: list[str] = []
    max_price: Annotated[int, Field(ge=0)] | None = None
    sort: Literal["name", "price"] = "name"
    limit: Annotated[int, Field(ge=1, le=50)] = 10
    offset: Annotated[int, Field(ge=0)] = 0


PRODUCTS = [
    Product(name="Dune", category="books", price=1299, tags=["scifi", "classic"]),
    Product(name="Emma", category="books", price=899, tags=["classic", "romance"]),
    Product(name="Neuromancer", category="books", price=1099, tags=["scifi", "cyberpunk"]),
    Product(name="Piranesi", category="books", price=1499, tags=["fantasy"]),
    Product(name="Azul", category="games", price=3499, tags=["family", "abstract"]),
    Product(name="Catan", category="games", price=3999, tags=["strategy", "family"]),
    Product(name="Chess", category="games", price=2499, tags=["strategy", "abstract", "classic"]),
    Product(name="Go", category="games", price=2999, tags=["strategy", "abstract"]),
    Product(name="Hanabi", category="games", price=999, tags=["family", "cooperative"]),
    Product(name="Blue Train", category="music", price=1999, tags=["jazz", "classic"]),
    Product(name="Kind of Blue", category="music", price=1899, tags=["jazz", "classic"]),
    Product(name="OK Computer", category="music", price=1599, tags=["rock"]),
]

app = FastAPI()


@app.get("/products")
async def list_products(filters: Annotated[Filters, Query()]) -> list[Product]:
    found = [
        product
        for product in PRODUCTS
        if filters.category in (None, product.category)
        and set(filters.tag) <= set(product.tags)
        and (filters.max_price is None or product.price <= filters.max_price)
    ]
    found.sort(key=attrgetter(filters.sort))
    return found[filters.offset : filters.offset + filters.limit]
