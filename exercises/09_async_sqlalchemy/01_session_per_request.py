"""One session per request: a product catalogue on SQLAlchemy's asyncio extension.

Task: the lifespan makes the engine and the sessionmaker, but `get_session` hands each request
a session that is never committed and never closed, and whose objects expire at each commit.
Make it one session per request that commits before the response when the endpoint returned
and rolls back when it raised; make the sessions keep their values after a commit; and
dispose of the engine when the app shuts down.

The contract (the checks rely on it):
- The lifespan (given, but for the TODOs) reads `DATABASE_URL` when the app starts
  (`DEFAULT_DATABASE_URL` when it is unset; the checks set it to a fresh, empty database of
  their own, SQLite or PostgreSQL), creates the tables, and yields its state, a `State`
  (keep this name): `"engine"`, the `AsyncEngine` on that URL, and `"sessions"`, an
  `async_sessionmaker` on it. Its sessions keep a committed object's loaded values: reading
  `product.name` after `await session.commit()` sends no SQL and does not raise. When the app
  shuts down the engine is disposed of, so its pool holds no connection any more.
- `get_session` (keep this name) is a dependency with `yield` that gives the request one new
  `AsyncSession` from `request.state.sessions`; `SessionDep` (keep this name) is its
  `Annotated` alias. Every dependency of one request that asks for `SessionDep` gets that
  same session (`get_product` and the endpoint share it); two requests, even at the same
  time, never share one. The checks add routes of their own that ask for `SessionDep`.
- When the endpoint returns, the session is committed before the response starts: a client
  that reads the database the moment the response begins sees every write. When the
  endpoint or a dependency raises, whatever it raises (the HTTPException of a 409 or 404, or
  any other exception), nothing the request wrote is kept: roll back and let the same
  exception go on (its handler answers it; any other error reaches the server as it was
  raised, and the client gets a 500). Either way the session is closed when the request is
  done: no connection stays checked out of the engine's pool (the checks count them, so
  the garbage collector's warning about a connection never returned fails no check).
- Keep `Base`, `Product`, `ProductIn`, `ProductOut`, `get_product` and the routes as they
  are. `POST /products` takes a JSON list of `{"name": str, "price": int}` and adds them, in
  order, all or none: 201 with the products added, each `{"id", "name", "price"}` with the
  id the database gave it (`[]` for an empty list); a name already stored, or earlier in the
  same list, answers 409 `{"detail": "A product named '<name>' exists already."}` once the
  products before it were written. `GET /products/{id}` answers 200 with the product, or 404
  `{"detail": "Product <id> not found."}`; `DELETE /products/{id}` answers 204 with no body,
  or the same 404.
"""

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
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    # TODO: Make sessions that keep their objects' loaded values after a commit.
    yield {"engine": engine, "sessions": async_sessionmaker(engine)}
    # TODO: Dispose of the engine when the app shuts down, so that its pool closes every connection.


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    # TODO: Open the session so that it is closed when the request is done.
    # TODO: Commit when the endpoint returned; roll back when it raised, and raise it again.
    yield request.state.sessions()


# TODO: Commit before the response is sent, not after it.
SessionDep = Annotated[AsyncSession, Depends(get_session)]


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
