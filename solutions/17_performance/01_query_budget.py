"""A dashboard of three lists, answered within a fixed budget of SQL statements."""

import os
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
    joinedload,
    mapped_column,
    relationship,
    selectinload,
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
    # 2 statements: the orders joined to their customers, then all their lines with products
    recent = (
        select(Order)
        .options(
            joinedload(Order.customer), selectinload(Order.lines).joinedload(OrderLine.product)
        )
        .order_by(Order.id.desc())
        .limit(RECENT_ORDERS)
    )
    # 1 statement: the database adds up the quantities, products come in the same rows
    sold = func.sum(OrderLine.quantity).label("sold")
    top = (
        select(Product.id, Product.name, sold)
        .join(OrderLine, OrderLine.product_id == Product.id)
        .group_by(Product.id, Product.name)
        .order_by(sold.desc(), Product.id)
        .limit(TOP_PRODUCTS)
    )
    # 1 statement
    tickets = select(Ticket).where(Ticket.is_open).order_by(Ticket.id).limit(OPEN_TICKETS)
    return {
        "recent_orders": (await session.scalars(recent)).all(),
        "top_products": (await session.execute(top)).all(),
        "open_tickets": (await session.scalars(tickets)).all(),
    }
