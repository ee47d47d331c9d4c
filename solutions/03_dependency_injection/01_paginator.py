"""Two listings paged by one callable dependency: each instance has its own bounds."""

import inspect
from typing import Annotated

from fastapi import Depends, FastAPI, Query
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
        if not 1 <= default_limit <= max_limit:
            raise ValueError(f"default_limit must be from 1 to {max_limit}, not {default_limit}")

        def parameters(
            limit: Annotated[int, Query(ge=1, le=max_limit)] = default_limit,
            offset: Annotated[int, Query(ge=0)] = 0,
        ) -> None: ...

        # FastAPI reads a dependency's parameters with inspect.signature(), which returns
        # __signature__ when there is one: each instance validates and documents its own bounds
        self.__signature__ = inspect.signature(parameters)

    async def __call__(self, limit: int, offset: int) -> Page:
        return Page(limit=limit, offset=offset)


orders_paginator = Paginator(default_limit=20, max_limit=100)
OrdersPage = Annotated[Page, Depends(orders_paginator)]
customers_paginator = Paginator(default_limit=10, max_limit=50)
CustomersPage = Annotated[Page, Depends(customers_paginator)]

ORDER_IDS = list(range(1, 151))
CUSTOMER_IDS = list(range(1, 61))

app = FastAPI()


def listing(ids: list[int], page: Page) -> Listing:
    return Listing(items=ids[page.offset : page.offset + page.limit], **page.model_dump())


@app.get("/orders")
async def list_orders(page: OrdersPage) -> Listing:
    return listing(ORDER_IDS, page)


@app.get("/customers")
async def list_customers(page: CustomersPage) -> Listing:
    return listing(CUSTOMER_IDS, page)
