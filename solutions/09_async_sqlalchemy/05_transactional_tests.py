"""A small shop (given) and tests that each run in a transaction rolled back at their end."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypedDict

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ForeignKey, event, func, select
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


def send_begin_ourselves(engine: AsyncEngine) -> None:
    """Make SQLAlchemy send BEGIN on SQLite, where the driver's own transactions skip it."""

    @event.listens_for(engine.sync_engine, "connect")
    def no_driver_transactions(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    """An engine on the app's database, with the app's tables (keep this fixture)."""
    engine = create_async_engine(database_url())
    if engine.dialect.name == "sqlite":
        # without BEGIN, the first SAVEPOINT opens the transaction and its RELEASE commits it
        send_begin_ourselves(engine)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """The test's connection, in a transaction rolled back after the test (keep this fixture)."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()


def joined(connection: AsyncConnection) -> AsyncSession:
    # a commit releases a savepoint and a rollback returns to one: the test's transaction lives on
    return AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session for the test itself, inside its transaction (keep this fixture)."""
    async with joined(connection) as session:
        yield session


@pytest.fixture
async def client(connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    """A client for `app`, its requests inside the test's transaction (keep this fixture)."""

    async def session_in_test() -> AsyncIterator[AsyncSession]:
        # a session per request, as in production: closing it drops what was not committed
        async with joined(connection) as session:
            yield session

    saved = dict(app.dependency_overrides)
    app.dependency_overrides[get_session] = session_in_test
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    app.dependency_overrides.clear()
    app.dependency_overrides.update(saved)


async def create(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/products", json=LAMP | changes)
    assert response.status_code == 201, response.text
    return response.json()


async def stock_of(client: httpx.AsyncClient, sku: str) -> int:
    return (await client.get(f"/products/{sku}")).json()["stock"]


async def test_product_is_created(client: httpx.AsyncClient) -> None:
    response = await client.post("/products", json=LAMP)
    assert response.status_code == 201
    product = response.json()
    assert isinstance(product.pop("id"), int)
    assert product == LAMP


async def test_each_test_starts_empty(client: httpx.AsyncClient, session: AsyncSession) -> None:
    assert (await client.get("/products")).json() == []
    assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_product_is_read_back(client: httpx.AsyncClient) -> None:
    created = await create(client)
    response = await client.get("/products/lamp")
    assert response.status_code == 200
    assert response.json() == created


async def test_unknown_product_is_404(client: httpx.AsyncClient) -> None:
    await create(client)
    response = await client.get("/products/desk")
    assert response.status_code == 404
    assert response.json() == {"detail": "product not found"}


async def test_products_listed_by_sku(client: httpx.AsyncClient) -> None:
    for sku in ("b", "c", "a"):
        await create(client, sku=sku)
    skus = [product["sku"] for product in (await client.get("/products")).json()]
    assert skus == ["a", "b", "c"]


async def test_duplicate_sku_is_409(client: httpx.AsyncClient) -> None:
    first = await create(client)
    response = await client.post("/products", json=LAMP | {"name": "Other lamp"})
    assert response.status_code == 409
    assert response.json() == {"detail": "SKU lamp is taken by Desk lamp"}
    assert (await client.get("/products")).json() == [first]
    await create(client, sku="desk")  # the session is usable after the failed commit


async def test_stock_cannot_be_negative(client: httpx.AsyncClient) -> None:
    response = await client.post("/products", json=LAMP | {"stock": -1})
    assert response.status_code == 422
    assert (await create(client, stock=0))["stock"] == 0


async def test_order_takes_stock(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await create(client)
    response = await client.post("/orders", json={"sku": "lamp", "quantity": 2})
    assert response.status_code == 201
    order = response.json()
    assert isinstance(order.pop("id"), int)
    assert order == {"sku": "lamp", "quantity": 2, "stock_left": 3}
    assert await stock_of(client, "lamp") == 3
    assert list(await session.scalars(select(Order.quantity))) == [2]


async def test_order_may_take_the_last_item(client: httpx.AsyncClient) -> None:
    await create(client, stock=2)
    response = await client.post("/orders", json={"sku": "lamp", "quantity": 2})
    assert response.status_code == 201
    assert response.json()["stock_left"] == 0
    assert await stock_of(client, "lamp") == 0


async def test_order_beyond_stock_is_409(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await create(client, stock=2)
    response = await client.post("/orders", json={"sku": "lamp", "quantity": 3})
    assert response.status_code == 409
    assert response.json() == {"detail": "not enough stock"}
    assert await stock_of(client, "lamp") == 2
    assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_order_needs_a_positive_quantity(client: httpx.AsyncClient) -> None:
    await create(client)
    response = await client.post("/orders", json={"sku": "lamp", "quantity": 0})
    assert response.status_code == 422
    response = await client.post("/orders", json={"sku": "lamp", "quantity": 1})
    assert response.status_code == 201


async def test_order_of_unknown_product_is_404(client: httpx.AsyncClient) -> None:
    await create(client)
    response = await client.post("/orders", json={"sku": "desk", "quantity": 1})
    assert response.status_code == 404
    assert response.json() == {"detail": "product not found"}


async def test_seeded_rows_are_seen_by_the_app(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    session.add(Product(sku="desk", name="Desk", stock=2))
    await session.commit()  # releases a savepoint: the rows stay in the test's transaction
    response = await client.post("/orders", json={"sku": "desk", "quantity": 1})
    assert response.status_code == 201
    assert response.json()["stock_left"] == 1
