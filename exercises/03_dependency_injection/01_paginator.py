"""Two listings paged by one callable dependency: each instance has its own bounds.

Task: make `Paginator` a parameterised dependency whose instances each validate and
document their own bounds, and wire the two listings to two module-level instances
through `Annotated` aliases.

The contract (the checks rely on it):
- `Page` (keep this name) is built as `Page(limit=..., offset=...)`; it is what a
  paginator hands to a route.
- `Paginator(default_limit=..., max_limit=...)` (keep this name; keyword arguments) is a
  dependency: use an instance in `Depends(...)` and it reads two optional query
  parameters and returns a `Page`:
  - `limit`: an integer from 1 to `max_limit`, both ends included; `default_limit` when absent.
  - `offset`: an integer >= 0; 0 when absent.
- A value out of range, or not an integer, gets FastAPI's own 422 for a query parameter,
  with the instance's own bound, e.g. for `max_limit=50` and `?limit=51`:
  `{"detail": [{"type": "less_than_equal", "loc": ["query", "limit"],
  "msg": "Input should be less than or equal to 50", "input": "51", "ctx": {"le": 50}}]}`
  (`limit=0`: `greater_than_equal` with `ctx` `{"ge": 1}`; `offset=-1`: the same with
  `{"ge": 0}`; `limit=ten`: `int_parsing`). When both parameters are wrong, the one 422
  lists both errors, `limit` first.
- The OpenAPI document lists exactly `limit` and `offset` for a route using an instance, both
  optional query parameters, with the schemas
  `{"type": "integer", "minimum": 1, "maximum": <max_limit>, "default": <default_limit>}` and
  `{"type": "integer", "minimum": 0, "default": 0}` (other keys, such as `title`, are free).
- `Paginator(...)` raises `ValueError` unless 1 <= default_limit <= max_limit.
- `orders_paginator` (keep this name) is `Paginator(default_limit=20, max_limit=100)` and
  pages `GET /orders`; `customers_paginator` (keep this name) is
  `Paginator(default_limit=10, max_limit=50)` and pages `GET /customers`. Each route uses
  its module-level instance, so `app.dependency_overrides[orders_paginator]` changes the
  paging of `/orders` only.
- Both routes answer `{"items": [...], "limit": <limit>, "offset": <offset>}`: the ids
  from `offset` on, at most `limit` of them (an offset past the end gives `[]`).
"""

from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import BaseModel


class Page(BaseModel):
    limit: int
    offset: int


class Listing(BaseModel):
    items: list[int]
    limit: int
    offset: int


class Paginator:
    """Reads `limit` and `offset` from the query string, within this instance's bounds."""

    def __init__(self, *, default_limit: int, max_limit: int) -> None:
        self.default_limit = default_limit
        self.max_limit = max_limit
        # TODO: Raise ValueError unless 1 <= default_limit <= max_limit.
        # TODO: Give this instance its own `limit` and `offset` parameters, bounds and defaults.

    async def __call__(self, limit: int = 20, offset: int = 0) -> Page:
        return Page(limit=limit, offset=offset)


orders_paginator = Paginator(default_limit=20, max_limit=100)
customers_paginator = Paginator(default_limit=10, max_limit=50)
# TODO: Declare an Annotated alias for each instance and page each route through its alias.

ORDER_IDS = list(range(1, 151))
CUSTOMER_IDS = list(range(1, 61))

app = FastAPI()


def listing(ids: list[int], page: Page) -> Listing:
    return Listing(items=ids[page.offset : page.offset + page.limit], **page.model_dump())


@app.get("/orders")
async def list_orders(
    page: Annotated[Page, Depends(Paginator(default_limit=20, max_limit=100))],
) -> Listing:
    return listing(ORDER_IDS, page)


@app.get("/customers")
async def list_customers(
    page: Annotated[Page, Depends(Paginator(default_limit=10, max_limit=50))],
) -> Listing:
    return listing(CUSTOMER_IDS, page)
