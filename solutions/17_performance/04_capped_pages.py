"""A list endpoint whose every page costs one statement, and a total only on request."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, Query, Request
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
    limit: Annotated[int, Query(ge=1)] = DEFAULT_LIMIT,
    after: Annotated[int | None, Query()] = None,
    include_total: bool = False,
) -> Page:
    limit = min(limit, MAX_LIMIT)  # clamped, not refused: a client asking for more gets the cap
    query = select(Item).order_by(Item.id).limit(limit)
    if after is not None:
        query = query.where(Item.id > after)  # keyset: the index finds the place, no OFFSET
    items = (await session.scalars(query)).all()
    total = await session.scalar(select(func.count()).select_from(Item)) if include_total else None
    return Page(
        items=[ItemOut(id=item.id, name=item.name) for item in items],
        limit=limit,
        next_after=items[-1].id if len(items) == limit else None,
        total=total,
    )
