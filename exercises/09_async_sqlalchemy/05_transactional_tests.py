"""Write the tests: each test in one transaction, rolled back at its end, commits and all.

The app below is given and correct. Your job is the part underneath it: fixtures that run
every test inside one database transaction, rolled back when the test ends whatever the app
committed in between, and tests of the app. The checks try your fixtures with tests of their
own, then run your tests against this app, where every test must pass, and against copies of
it with one bug planted in each, where at least one of your tests must fail. Run your tests
yourself with `pytest exercises/09_async_sqlalchemy/05_transactional_tests.py`.

What the app promises (its HTTP contract):
- POST /products with {"sku": str, "name": str, "stock": int} creates a product and answers
  201 {"id": int, "sku": ..., "name": ..., "stock": ...}. A stock below 0 is a 422 (as is
  any body FastAPI refuses). A SKU another product has is a 409
  {"detail": "SKU <sku> is taken by <that product's name>"}, and that product stays as it
  was.
- GET /products answers 200 with every product, each as above, ordered by SKU ([] when
  there is none). GET /products/{sku} answers 200 with the product, or 404
  {"detail": "product not found"}.
- POST /orders with {"sku": str, "quantity": int} takes `quantity` items from the product's
  stock and answers 201 {"id": int, "sku": ..., "quantity": ..., "stock_left": <the stock
  after the order>}; an order may take the last items (stock_left 0). A quantity below 1 is
  a 422, an unknown SKU a 404 {"detail": "product not found"}, a quantity above the stock a
  409 {"detail": "not enough stock"}; a refused order changes nothing. 422 wins over 404,
  404 over 409.
- Every write is committed before the answer. What a request does not commit is lost when
  its session (get_session) closes at the end of the request.
- Ids are whatever the database gives: on PostgreSQL a rolled-back insert still uses up its
  id, so read ids back, never assume their values.

The contract of your code (the checks rely on it):
- `session` (keep this fixture): an AsyncSession for the test itself, inside the test's
  transaction. The app's requests see the rows a test adds and commits through it, and it
  sees what the app commits.
- `client` (keep this fixture): an httpx.AsyncClient for `app` whose requests run inside the
  test's transaction, get_session overridden, and end as in production: what a request does
  not commit is gone for the next one (give each request a session of its own, joined to
  the test's connection, closed when the request ends). After the test,
  app.dependency_overrides holds what it held before.
- When a test ends, passed or failed, everything it wrote, through `session` or through the
  app, even what the app committed, is rolled back: neither the next test nor the database
  itself sees any of it. When the app rolls back a failed commit (a taken SKU), only that
  request's work is undone, and the test's transaction goes on.
- Build them on an `engine` (on database_url(), the app's tables created, disposed after the
  test) and a `connection` of it that begins the test's transaction. Join every session to
  that connection with join_transaction_mode="create_savepoint", and expire_on_commit=False
  as the app's own sessions have. On SQLite (the default database) the driver sends BEGIN
  only before an INSERT, UPDATE or DELETE, so the first SAVEPOINT opens the transaction
  itself, and releasing it commits: make the engine send BEGIN itself (on its "connect"
  event set the driver connection's isolation_level to None, on its "begin" event send
  BEGIN). The checks give each check a fresh database through DATABASE_URL, SQLite or
  PostgreSQL.
- Tests are module-level `async def test_<name>(...)` functions whose parameters are
  fixtures defined in this file (or pytest's `monkeypatch`). The checks run them as pytest
  does, each with the fixtures it names, set up before it and torn down after it (scopes
  aside: every test gets its own); they provide no other fixture and run no `autouse`
  fixture and no `parametrize`. They run your tests in the order written on one database,
  and on another in reverse order, then in order again.
- Write at least 6 tests, each passing on this app, and leave no row, no override and no
  open connection behind.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ForeignKey, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# --- the database wiring (given: do not edit) -----------------------------------------

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"


def database_url() -> str:
    """The database to use: DATABASE_URL, or a SQLite file in the working folder."""
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


class Base(DeclarativeBase):
    pass


class State(TypedDict):
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(database_url())
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield {"engine": engine, "sessions": async_sessionmaker(engine, expire_on_commit=False)}
    await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, closed when the request ends: what was not committed is lost."""
    async with request.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

# --- the app under test (given: do not edit) ------------------------------------------


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str]
    stock: Mapped[int]


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int]


class NewProduct(BaseModel):
    sku: str
    name: str
    stock: int = Field(ge=0)


class ProductOut(NewProduct):
    model_config = ConfigDict(from_attributes=True)

    id: int


class NewOrder(BaseModel):
    sku: str
    quantity: int = Field(gt=0)


class OrderOut(NewOrder):
    id: int
    stock_left: int


app = FastAPI(lifespan=lifespan)


async def find_product(session: AsyncSession, sku: str) -> Product:
    product = await session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise HTTPException(404, "product not found")
    return product


@app.post("/products", status_code=201)
async def create_product(new: NewProduct, session: SessionDep) -> ProductOut:
    product = Product(**new.model_dump())
    session.add(product)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        taken = await find_product(session, new.sku)
        raise HTTPException(409, f"SKU {new.sku} is taken by {taken.name}") from None
    return ProductOut.model_validate(product)


@app.get("/products")
async def list_products(session: SessionDep) -> list[ProductOut]:
    products = await session.scalars(select(Product).order_by(Product.sku))
    return [ProductOut.model_validate(product) for product in products]


@app.get("/products/{sku}")
async def read_product(sku: str, session: SessionDep) -> ProductOut:
    return ProductOut.model_validate(await find_product(session, sku))


@app.post("/orders", status_code=201)
async def place_order(new: NewOrder, session: SessionDep) -> OrderOut:
    product = await find_product(session, new.sku)
    if new.quantity > product.stock:
        raise HTTPException(409, "not enough stock")
    product.stock -= new.quantity
    order = Order(product_id=product.id, quantity=new.quantity)
    session.add(order)
    await session.commit()
    return OrderOut(id=order.id, sku=new.sku, quantity=new.quantity, stock_left=product.stock)


# --- the tests ------------------------------------------------------------------------

LAMP = {"sku": "lamp", "name": "Desk lamp", "stock": 5}


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    """An engine on the app's database, with the app's tables."""
    engine = create_async_engine(database_url())
    # TODO: On SQLite, make the engine send BEGIN itself, so savepoints stay inside a transaction.
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """The test's connection."""
    # TODO: Begin the test's transaction on it, and roll it back once the test is over.
    async with engine.connect() as connection:
        yield connection


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session for the test itself, inside its transaction (keep this fixture)."""
    # TODO: Join the test's transaction, so that a commit only releases a savepoint.
    async with AsyncSession(bind=connection, expire_on_commit=False) as session:
        yield session


@pytest.fixture
async def client(session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    """A client for `app`, its requests inside the test's transaction (keep this fixture)."""

    async def session_in_test() -> AsyncSession:
        # TODO: Give each request a session of its own, joined to the test's connection, and
        # close it when the request ends.
        return session

    saved = dict(app.dependency_overrides)
    app.dependency_overrides[get_session] = session_in_test
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    app.dependency_overrides.clear()
    app.dependency_overrides.update(saved)


async def test_product_is_created(client: httpx.AsyncClient) -> None:
    response = await client.post("/products", json=LAMP)
    assert response.status_code == 201
    product = response.json()
    assert isinstance(product.pop("id"), int)
    assert product == LAMP


# TODO: Write more tests until every promise of the app's contract is checked.
