"""A query budget: a dashboard of three lists, answered in 4 statements at any size.

Task: `GET /dashboard` answers the right lists, but sends a query for each order's customer,
each order's lines, each line's product and each top product, plus a COUNT before the
tickets: at 50 rows a table it sends dozens of statements. Bring it within `QUERY_BUDGET`
statements, the same number whatever the size of the tables.

The contract (the checks rely on it):
- The models, the response models, the lifespan, `State`, `get_session` and `SessionDep` are
  given: the app works on the database `DATABASE_URL` names when it starts (the checks give
  each check a fresh one, SQLite or PostgreSQL) and creates the tables `customers (id, name)`,
  `products (id, name)`, `orders (id, customer_id)`, `order_lines (id, order_id, product_id,
  quantity)` and `tickets (id, subject, is_open)`, which the checks fill themselves.
- `QUERY_BUDGET` (keep this name and its value, 4) is the most statements one
  `GET /dashboard` may send, and it sends the same number with 1, 10 or 50 rows in each
  table. Statements are counted with SQLAlchemy's `before_cursor_execute` event on every
  engine while the request runs: a transaction's BEGIN and COMMIT are not counted.
- `GET /dashboard` answers 200 `{"recent_orders", "top_products", "open_tickets"}`:
  - `recent_orders`: the `RECENT_ORDERS` (10) orders with the highest ids, highest first, each
    as `{"id", "customer": {"id", "name"}, "lines": [{"product": {"id", "name"},
    "quantity"}]}`, the lines ordered by their id (`[]` for an order without lines);
  - `top_products`: the `TOP_PRODUCTS` (5) products with the largest total quantity over all
    order lines, as `{"id", "name", "sold"}` (`sold` that total), largest first, equal totals
    by product id; a product on no order line is not listed, so the list may be shorter;
  - `open_tickets`: the `OPEN_TICKETS` (10) open tickets (`is_open` true) with the lowest
    ids, lowest first, as `{"id", "subject"}`.
  Each list is `[]` when its tables are empty.
"""

import os
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypedDict

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy import ForeignKey, func, select
from sqlalchemy.ext.asyncio import (
    AsyncAttrs,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    relationship,
)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"

QUERY_BUDGET = 4  # statements per GET /dashboard, whatever the size of the tables
RECENT_ORDERS = 10
TOP_PRODUCTS = 5
OPEN_TICKETS = 10


class Base(AsyncAttrs, DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    customer: Mapped[Customer] = relationship()
    lines: Mapped[list["OrderLine"]] = relationship(order_by="OrderLine.id")


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int]
    product: Mapped[Product] = relationship()


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str]
    is_open: Mapped[bool]


class CustomerOut(BaseModel):
    id: int
    name: str


class ProductOut(BaseModel):
    id: int
    name: str


class LineOut(BaseModel):
    product: ProductOut
    quantity: int


class OrderOut(BaseModel):
    id: int
    customer: CustomerOut
    lines: list[LineOut]


class ProductSales(ProductOut):
    sold: int


class TicketOut(BaseModel):
    id: int
    subject: str


class Dashboard(BaseModel):
    recent_orders: list[OrderOut]
    top_products: list[ProductSales]
    open_tickets: list[TicketOut]


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


@app.get("/dashboard", response_model=Dashboard)
async def dashboard(session: SessionDep) -> dict[str, Any]:
    # TODO: Load each order's customer, and its lines with their products, with the orders'
    # query (loader options), instead of awaiting them one by one.
    query = select(Order).order_by(Order.id.desc()).limit(RECENT_ORDERS)
    recent = (await session.scalars(query)).all()
    for order in recent:
        await order.awaitable_attrs.customer
        for line in await order.awaitable_attrs.lines:
            await line.awaitable_attrs.product

    # TODO: Let the database add up, rank and cut the products in one statement that also
    # gives their names, instead of fetching every line and then each product.
    sold: Counter[int] = Counter()
    for line in (await session.scalars(select(OrderLine))).all():
        sold[line.product_id] += line.quantity
    top = []
    for product_id in sorted(sold, key=lambda key: (-sold[key], key))[:TOP_PRODUCTS]:
        product = await session.get_one(Product, product_id)
        top.append({"id": product.id, "name": product.name, "sold": sold[product_id]})

    # TODO: An empty result is already an empty list: the COUNT first is a statement too.
    open_tickets: list[Ticket] = []
    count = select(func.count()).select_from(Ticket).where(Ticket.is_open)
    if await session.scalar(count):
        query = select(Ticket).where(Ticket.is_open).order_by(Ticket.id).limit(OPEN_TICKETS)
        open_tickets = list((await session.scalars(query)).all())
    return {"recent_orders": recent, "top_products": top, "open_tickets": open_tickets}
