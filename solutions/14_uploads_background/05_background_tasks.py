"""Cancel orders, and write the audit trail after the response, with a session of its own."""

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///orders.sqlite3"
logger = logging.getLogger("orders")


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    item: Mapped[str]
    status: Mapped[str]  # "placed", "shipped" or "cancelled"


class AuditEntry(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int]
    action: Mapped[str]


class OrderOut(BaseModel):
    id: int
    item: str
    status: str


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


# scope="function": committed and closed before the response, and so before any task
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def record_cancellation(sessions: async_sessionmaker[AsyncSession], order_id: int) -> None:
    # the request's session is closed by now: the task opens, commits and closes its own
    try:
        async with sessions.begin() as session:
            session.add(AuditEntry(order_id=order_id, action="cancelled"))
    except Exception:
        # the client has its answer already: all that is left to do is to tell the logs
        logger.exception("could not record the cancellation of order %s", order_id)


app = FastAPI(lifespan=lifespan)


@app.post("/orders/{order_id}/cancel", response_model=OrderOut)
async def cancel_order(
    order_id: int, session: SessionDep, tasks: BackgroundTasks, request: Request
) -> Order:
    order = await session.get(Order, order_id)
    if order is None:
        raise HTTPException(404, f"Order {order_id} not found.")
    if order.status == "shipped":
        raise HTTPException(409, f"Order {order_id} has shipped already.")
    if order.status != "cancelled":  # a second cancel changes nothing, so it records nothing
        order.status = "cancelled"
        tasks.add_task(record_cancellation, request.state.sessions, order_id)
    return order
