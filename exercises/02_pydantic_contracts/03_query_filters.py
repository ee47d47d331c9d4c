"""A product search: every filter is a query parameter, and a misspelled one is an error.

Task: gather the filters into one query-parameter model with the constraints and defaults
below, make it refuse unknown filters, and apply every filter.

The contract (the checks rely on it):
- `app` (keep this name) serves `GET /products`, a list of products (prices in cents),
  filtered, sorted, then paged. The query parameters, all optional:
  - `category`: `books`, `games` or `music` (a Literal); only products of that category.
  - `tag`: may repeat (`?tag=a&tag=b`); only products that carry every tag given (both
    `a` and `b`, not either).
  - `max_price`: an integer >= 0; only products that cost at most that. `0` is a bound
    like any other: only free products (there are none).
  - `sort`: `name` (the default) or `price` (a Literal); ascending.
  - `limit`: an integer from 1 to 50, default 10; `offset`: an integer >= 0, default 0
    (an offset past the end gives an empty list).
- A parameter outside those rules gets Pydantic's own error for it at `["query", <name>]`:
  `literal_error`, `int_parsing`, or past a bound (every bound is inclusive)
  `greater_than_equal` / `less_than_equal` (`limit=0`: "greater than or equal to 1").
- Any other query parameter gets the error `extra_forbidden` at `["query", <its name>]`.
- All the errors of one request come together in one 422, one error per parameter.
- The OpenAPI document lists each filter as an optional query parameter with its constraints
  and default.
"""

from operator import attrgetter
from typing import Literal

from fastapi import FastAPI
from pydantic import BaseModel

Category = Literal["books", "games", "music"]


class Product(BaseModel):
    name: str
    category: Category
    price: int
    tags: list[str]


# TODO: Declare a `Filters` model with every filter of the contract: types, bounds, defaults.
# TODO: Make `Filters` answer 422 to any query parameter it does not declare.


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
async def list_products(category: str | None = None) -> list[Product]:
    # TODO: Take the filters as one `Annotated[Filters, Query()]` parameter and apply them all.
    found = [product for product in PRODUCTS if category in (None, product.category)]
    found.sort(key=attrgetter("name"))
    return found
