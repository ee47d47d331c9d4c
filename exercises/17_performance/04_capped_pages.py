"""Capped pages: a list endpoint whose every page costs one statement, at any depth.

Task: `GET /items` answers the right items, but reads the whole table for every page, slices
it in Python, counts the table every time and takes any `limit` a client sends. Make each page
one bounded SQL statement, cap the limit, and count only when the client asks for a total.

The contract (the checks rely on it):
- The model, the response models, the lifespan, `State`, `get_session` and `SessionDep` are
  given: the app works on the database `DATABASE_URL` names when it starts (the checks give
  each check a fresh one, SQLite or PostgreSQL) and creates the table `items (id, name)`,
  which the checks fill themselves, with ids that are not contiguous.
- `GET /items?limit=&after=&include_total=` answers 200 `{"items": [{"id", "name"}, ...],
  "limit", "next_after", "total"}`, the items in id order.
- `limit` is `DEFAULT_LIMIT` (20) when left out. A whole number above `MAX_LIMIT` (100) is
  clamped to 100, not refused; 0, a negative number, or anything that is not a whole number
  (`2.5`, text, an empty value) is FastAPI's 422. The body's `limit` is the limit applied.
- `after` is an id, not a position: the page holds the first `limit` items whose id is
  greater than `after` (any whole number, an id or not), or the first items when `after` is
  left out. Items deleted before that place do not shift the page.
- `next_after` is the id of the page's last item when the page is full (it holds `limit`
  items), and `null` when it is not (so a last page that is exactly full gives a
  `next_after` whose page is empty).
- `total` is `null` unless `include_total=true`; then it is the number of items in the whole
  table (not only those after `after`).
- The budget: each page, at any depth, is exactly one SQL statement, a SELECT with a LIMIT
  (no OFFSET, no reading of the whole table, no COUNT); with `include_total=true`, exactly
  two (that SELECT and one count). Statements are counted with SQLAlchemy's
  `before_cursor_execute` event on every engine while the request runs: a transaction's
  BEGIN and COMMIT are not counted.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class ItemOut(BaseModel):
    id: int
    name: str


class Page(BaseModel):
    items: list[ItemOut]
    limit: int
    next_after: int | None
    total: int | None


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


@app.get("/items")
async def list_items(
    session: SessionDep,
    limit: int = DEFAULT_LIMIT,
    after: int | None = None,
    include_total: bool = False,
) -> Page:
    # TODO: Refuse a limit below 1 with FastAPI's 422, and clamp one above MAX_LIMIT.
    # TODO: Let the database find the page: one SELECT of the items after `after`, in id
    # order, with a LIMIT, instead of reading the whole table and slicing it here.
    rows = (await session.scalars(select(Item).order_by(Item.id))).all()
    start = len(rows)
    for position, row in enumerate(rows):
        if after is None or row.id > after:
            start = position
            break
    items = rows[start : start + limit]
    # TODO: Count only when the client asks for the total.
    total = await session.scalar(select(func.count()).select_from(Item))
    return Page(
        items=[ItemOut(id=item.id, name=item.name) for item in items],
        limit=limit,
        next_after=items[-1].id if len(items) == limit else None,
        total=total if include_total else None,
    )
