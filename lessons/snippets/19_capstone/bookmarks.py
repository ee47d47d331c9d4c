"""A bookmarks service: CRUD over async SQL, every answer documented, ready to be fuzzed."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response, status
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, StringConstraints, field_validator
from sqlalchemy import DateTime, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# --8<-- [start:models]
MAX_ID = 2**31 - 1  # PostgreSQL's INTEGER ends here; a bigger id is a 422, not a 500
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=80, pattern=r"^[^\x00]*$"),
]


class Base(DeclarativeBase):
    pass


class BookmarkRow(Base):
    __tablename__ = "bookmarks"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(String(2000))
    saved_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


class BookmarkIn(BaseModel):
    label: Label
    url: AnyHttpUrl


class Bookmark(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    label: str
    url: str
    saved_at: datetime

    @field_validator("saved_at")
    @classmethod
    def in_utc(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite forgets the zone


class Page(BaseModel):
    items: list[Bookmark]
    next: int | None


class Problem(BaseModel):
    detail: str


# --8<-- [end:models]


class State(TypedDict):
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite://"))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield {"sessions": async_sessionmaker(engine, expire_on_commit=False)}
    await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state.sessions.begin() as session:
        yield session


# --8<-- [start:routes]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
BookmarkId = Annotated[int, Path(ge=1, le=MAX_ID)]
MISSING = {404: {"model": Problem, "description": "No such bookmark"}}

app = FastAPI(title="Bookmarks", lifespan=lifespan)


@app.post("/bookmarks", status_code=status.HTTP_201_CREATED)
async def save(body: BookmarkIn, session: SessionDep, response: Response) -> Bookmark:
    row = BookmarkRow(label=body.label, url=str(body.url))
    session.add(row)
    await session.flush()  # the INSERT runs now, so the row has its id
    response.headers["Location"] = f"/bookmarks/{row.id}"
    return Bookmark.model_validate(row)


@app.get("/bookmarks/{bookmark_id}", responses=MISSING)
async def read(bookmark_id: BookmarkId, session: SessionDep) -> Bookmark:
    row = await session.get(BookmarkRow, bookmark_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Bookmark not found")
    return Bookmark.model_validate(row)


@app.get("/bookmarks")
async def page(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Page:
    query = (
        select(BookmarkRow).where(BookmarkRow.id > after).order_by(BookmarkRow.id).limit(limit + 1)
    )
    rows = (await session.scalars(query)).all()  # one statement, however deep the page
    items = [Bookmark.model_validate(row) for row in rows[:limit]]
    return Page(items=items, next=items[-1].id if len(rows) > limit else None)


# --8<-- [end:routes]
