"""The product list with promotions: one parse, set lookups, and a fixed number of queries."""

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
    on_sale: set[str] = set()
    keep = 100
    if blob is not None:
        # parsed once per request, not once per product
        promotions = json.loads(blob)
        # a set: each lookup costs the same, however many SKUs are on sale
        on_sale = set(promotions["skus"])
        keep -= promotions["percent_off"]
    # the category names come in the same query, joined (outer: a product may have none)
    query = (
        select(Product, Category.name)
        .outerjoin(Category, Product.category_id == Category.id)
        .order_by(Product.sku)
    )
    return [
        ProductOut(
            id=product.id,
            sku=product.sku,
            name=product.name,
            category=category,
            price_cents=product.price_cents * keep // 100
            if product.sku in on_sale
            else product.price_cents,
            on_sale=product.sku in on_sale,
        )
        for product, category in await session.execute(query)
    ]
