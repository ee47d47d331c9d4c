"""A dashboard of three lists, within a budget of statements that does not grow with the data."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

QUERY_BUDGET = 3  # statements per request, at any number of rows


# --8<-- [start:models]
class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    total: Mapped[int]
    customer: Mapped[Customer] = relationship(lazy="raise")  # a forgotten load fails at once


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    sold: Mapped[int]


# --8<-- [end:models]


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    total: int
    customer: str


class Dashboard(BaseModel):
    orders: list[OrderOut]
    top_products: list[str]


class State(TypedDict):
    sessions: async_sessionmaker[AsyncSession]


def create_app(url: str = "sqlite+aiosqlite://") -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        yield {"sessions": async_sessionmaker(engine, expire_on_commit=False)}
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
        async with request.state.sessions() as session:
            yield session

    Session = Annotated[AsyncSession, Depends(get_session)]

    # --8<-- [start:dashboard]
    @app.get("/dashboard")
    async def dashboard(session: Session) -> Dashboard:
        orders = await session.scalars(  # 2 statements: the orders, then all their customers
            select(Order).options(selectinload(Order.customer)).order_by(Order.id.desc()).limit(20)
        )
        top = await session.scalars(  # 1 statement, whatever the number of products
            select(Product.name).order_by(Product.sold.desc(), Product.id).limit(5)
        )
        return Dashboard(
            orders=[OrderOut(id=o.id, total=o.total, customer=o.customer.name) for o in orders],
            top_products=list(top),
        )

    # --8<-- [end:dashboard]

    # --8<-- [start:naive]
    @app.get("/dashboard/naive")
    async def naive_dashboard(session: Session) -> Dashboard:
        orders = await session.scalars(select(Order).order_by(Order.id.desc()).limit(20))
        rows = []
        for o in orders:  # one SELECT per order whose customer is not loaded yet
            customer = await session.get(Customer, o.customer_id)
            rows.append(OrderOut(id=o.id, total=o.total, customer=customer.name))
        top = await session.scalars(
            select(Product.name).order_by(Product.sold.desc(), Product.id).limit(5)
        )
        return Dashboard(orders=rows, top_products=list(top))

    # --8<-- [end:naive]

    return app
