"""Work after the response: write the audit trail in a background task, with its own session.

Cancelling an order records an audit row. The endpoint below writes that row itself, in the
request's transaction, so the client waits for the audit trail before it gets its answer, and
an audit trail that cannot be written fails the cancel. Move the write into a background task
that runs after the response, with a session of its own, and that keeps its errors to itself.

Contract (the checks rely on every line):
- Given, keep these names and keep them as they are: DEFAULT_DATABASE_URL, `logger` (the
  logger named "orders"), `Base`, `Order`, `AuditEntry`, `OrderOut`, `State`, `lifespan`,
  `get_session`, `SessionDep` and `app`. The lifespan reads `DATABASE_URL` when the app starts
  (the checks set it to a fresh database of their own, SQLite or PostgreSQL), creates the
  tables, and yields `"engine"` and `"sessions"` (an `async_sessionmaker`); the request's
  session (`SessionDep`, scope="function") is committed and closed before the response.
- `POST /orders/{order_id}/cancel`: an unknown order answers 404
  `{"detail": "Order <id> not found."}`; a shipped order answers 409
  `{"detail": "Order <id> has shipped already."}`; either way nothing changes and nothing is
  recorded. Otherwise the answer is 200 with the order, `{"id", "item", "status"}`, its status
  "cancelled" and committed before the response. An order that was "placed" is cancelled, and
  exactly one audit row `AuditEntry(order_id=<id>, action="cancelled")` is recorded for it;
  an order that was already "cancelled" is answered as it is and records nothing more.
- The audit row is written by a background task (`BackgroundTasks`), after the whole response
  was sent: nothing of it is in the database when the last byte of the body goes out, and it
  is committed by the time the app is done with the request.
- The task writes through a session of its own, opened from the lifespan's sessionmaker
  (`request.state.sessions`), committed and closed by the task, even when the write fails.
  It never uses the request's session: that one is closed by then.
- When the task fails (the checks drop the `audit` table to make it fail), the error does not
  reach the server: the task logs it with `logger.exception(...)` (an ERROR record with the
  exception) and returns. The answer the client got stays as it was.
"""

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, HTTPException, Request
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


# TODO: write a task that records the cancellation with a session of its own, from the
# TODO: sessionmaker it is given, and logs (logger.exception) any error instead of raising it.


app = FastAPI(lifespan=lifespan)


@app.post("/orders/{order_id}/cancel", response_model=OrderOut)
async def cancel_order(order_id: int, session: SessionDep) -> Order:
    order = await session.get(Order, order_id)
    if order is None:
        raise HTTPException(404, f"Order {order_id} not found.")
    if order.status == "shipped":
        raise HTTPException(409, f"Order {order_id} has shipped already.")
    if order.status != "cancelled":  # a second cancel changes nothing, so it records nothing
        order.status = "cancelled"
        # TODO: add the task (BackgroundTasks.add_task) instead of writing the row here.
        session.add(AuditEntry(order_id=order_id, action="cancelled"))
    return order
