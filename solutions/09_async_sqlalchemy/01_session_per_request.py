"""A product catalogue with one database session per request."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    price: Mapped[int]


class ProductIn(BaseModel):
    name: str
    price: int


class ProductOut(ProductIn):
    id: int


class State(TypedDict):
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        # objects keep their loaded values after a commit, so nothing reloads them lazily
        yield {"engine": engine, "sessions": async_sessionmaker(engine, expire_on_commit=False)}
    finally:
        await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    # begin() commits when the request's code returned, rolls back when it raised, then closes
    async with request.state.sessions.begin() as session:
        yield session


# scope="function": the commit runs before the response is sent, so a failed one is a 500
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_product(product_id: int, session: SessionDep) -> Product:
    if (product := await session.get(Product, product_id)) is None:
        raise HTTPException(404, f"Product {product_id} not found.")
    return product


ProductDep = Annotated[Product, Depends(get_product)]

app = FastAPI(lifespan=lifespan)


@app.post("/products", status_code=201, response_model=list[ProductOut])
async def add_products(batch: list[ProductIn], session: SessionDep) -> list[Product]:
    products = [Product(name=item.name, price=item.price) for item in batch]
    for product in products:
        # autoflush sends the products added before this one, so the query sees them too
        taken = select(Product.id).where(Product.name == product.name)
        if await session.scalar(taken) is not None:
            raise HTTPException(409, f"A product named {product.name!r} exists already.")
        session.add(product)
    await session.flush()
    return products


@app.get("/products/{product_id}", response_model=ProductOut)
async def read_product(product: ProductDep) -> Product:
    return product


@app.delete("/products/{product_id}", status_code=204)
async def delete_product(product: ProductDep, session: SessionDep) -> None:
    await session.delete(product)
