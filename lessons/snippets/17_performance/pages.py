"""A list with a capped page size, keyset continuation, and a total only on request."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, Query, Request
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class EventOut(BaseModel):
    id: int
    name: str


# --8<-- [start:page]
class Page(BaseModel):
    items: list[EventOut]
    next_after: int | None  # pass it back as ?after= for the next page; null on the last
    total: int | None = None  # only with ?include_total=true: a COUNT costs a scan


# --8<-- [end:page]


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

    # --8<-- [start:endpoint]
    @app.get("/events")
    async def list_events(
        session: Annotated[AsyncSession, Depends(get_session)],
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        after: int = 0,
        include_total: bool = False,
    ) -> Page:
        rows = (
            await session.scalars(
                select(Event).where(Event.id > after).order_by(Event.id).limit(limit + 1)
            )
        ).all()  # one row more than asked: is there a next page? no COUNT needed
        items = [EventOut(id=e.id, name=e.name) for e in rows[:limit]]
        next_after = items[-1].id if len(rows) > limit else None
        total = await session.scalar(select(func.count(Event.id))) if include_total else None
        return Page(items=items, next_after=next_after, total=total)

    # --8<-- [end:endpoint]

    return app
