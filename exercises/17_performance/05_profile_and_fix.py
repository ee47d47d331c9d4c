"""Exercise 17.05: profile a slow endpoint, then fix what the profile shows.

``GET /products`` below answers right, but slowly, and slower the more products there are.
The notebook profiles it with cProfile; the profile points at three causes. Fix all three
without changing one byte of any answer.

What the endpoint answers (it does so already; keep it so):

- A JSON list with one object per row of ``products``, ordered by ``sku`` (an empty table
  answers ``[]``), each exactly ``{"id", "sku", "name", "category", "price_cents",
  "on_sale"}``: ``category`` is the name of the product's category, or ``null`` when its
  ``category_id`` is NULL (the product is listed all the same). No two products share a SKU.
- The promotions are the JSON text in the ``value`` of the ``settings`` row whose ``key`` is
  ``"promotions"``: ``{"percent_off": P, "skus": [...]}`` with ``0 <= P <= 100``. They are read
  from the database on every request: a change to the row shows on the next request. Without
  that row there is no promotion.
- A product whose ``sku`` is among the promotion's ``skus`` has ``"on_sale": true`` and
  ``price_cents`` = ``price_cents * (100 - P) // 100`` (rounded down); any other product has
  ``"on_sale": false`` and its own ``price_cents``. A SKU on sale that no product has changes
  nothing.

What the checks count (never time), at 1, 10 and 50 products alike:

- ``json.loads`` (called as ``json.loads``; keep this name): at most one call per request.
- Statements sent to the database: at most 2 per request, the same number at every size.
- Comparisons (``==``) between a SKU of the promotion and another string: at most one per
  product plus one per SKU of the promotion, where a list would make one per pair of them.

The names ``app``, ``lifespan`` (its state holds ``"engine"``), the tables and their columns
are used by the checks: keep them.
"""

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"
PROMOTIONS_KEY = "promotions"


class Base(DeclarativeBase):
    pass


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str]
    name: Mapped[str]
    price_cents: Mapped[int]
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[str]


class ProductOut(BaseModel):
    id: int
    sku: str
    name: str
    category: str | None
    price_cents: int
    on_sale: bool


class State(TypedDict):
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        yield {"engine": engine, "sessions": async_sessionmaker(engine, expire_on_commit=False)}
    finally:
        await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state.sessions.begin() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

app = FastAPI(lifespan=lifespan)


@app.get("/products")
async def list_products(session: SessionDep) -> list[ProductOut]:
    blob = await session.scalar(select(Setting.value).where(Setting.key == PROMOTIONS_KEY))
    products = (await session.scalars(select(Product).order_by(Product.sku))).all()
    answer = []
    for product in products:
        # TODO: the profile shows json.loads once per product: parse the blob once per request
        promotions = json.loads(blob) if blob is not None else {"percent_off": 0, "skus": []}
        # TODO: `in` on a list compares the SKU with each one on sale: look it up in a set
        on_sale = product.sku in promotions["skus"]
        # TODO: one more query per product: fetch the category names with the products
        category = None
        if product.category_id is not None:
            category = await session.scalar(
                select(Category.name).where(Category.id == product.category_id)
            )
        price = product.price_cents
        if on_sale:
            price = price * (100 - promotions["percent_off"]) // 100
        answer.append(
            ProductOut(
                id=product.id,
                sku=product.sku,
                name=product.name,
                category=category,
                price_cents=price,
                on_sale=on_sale,
            )
        )
    return answer
