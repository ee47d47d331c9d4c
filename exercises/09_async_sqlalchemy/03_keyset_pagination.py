"""Keyset pagination: the newest events first, one query per page, behind signed cursors.

Task: `GET /events` answers an empty page. Make it page through the events, newest first,
with keyset pagination: each page is one query that starts right after the last event of the
page before, and the client finds that place again through an opaque cursor the app signs.

The contract (the checks rely on it):
- `app`, `lifespan`, `Event`, `Page`, `EventOut`, `InvalidCursor` and its handler (keep
  these names) are given. The lifespan reads `DATABASE_URL` when it starts, creates the
  tables and yields the state `{"engine": ..., "sessions": ...}`; the checks seed events
  through `state["sessions"]` as `Event(id=..., created_at=..., title=...)`, with ids that do
  not follow the time order. `created_at` is a naive UTC datetime, to the microsecond.
- `GET /events?limit=&cursor=` answers 200 `{"items": [...], "next_cursor": ...}`, each
  item `{"id": int, "created_at": "2025-03-01T09:00:00", "title": str}` (`created_at` as
  Pydantic writes a naive datetime: `.000001` and so on when it has microseconds).
- Order: newest first, by `created_at` descending; events with the same `created_at` go by
  `id` descending (the higher id first).
- `limit` is a whole number from 1 to 100, 20 when left out; anything else (0, -1, 101,
  `2.5`, an empty value, text) is FastAPI's 422. A page holds `limit` events, fewer only
  when fewer remain (an empty table gives `{"items": [], "next_cursor": null}`).
- `next_cursor` is a non-empty string when at least one event follows the page, and `null`
  exactly when none does, also when the last page is exactly full.
- Without `cursor`, the first page. With the `next_cursor` of a page, the events that come
  after that page's last event (its `created_at` to the microsecond, then its `id`), in the
  same order, as the table is now: events added or removed since, ahead of that place, do
  not shift the page, and events added behind it show in it. A cursor holds a place, not a
  size: the request's own `limit` applies.
- Each page, at any depth, is exactly one SQL statement, a SELECT with a LIMIT: no OFFSET,
  no COUNT, no second query, no reading of the whole table.
- Cursors are opaque (the format is yours) and signed with HMAC-SHA256 under
  `CURSOR_SECRET` (keep this name). A cursor stays valid when the app restarts with the same
  secret. The checks may change `CURSOR_SECRET` between two runs of the app: read it when
  you sign and check (or when the lifespan starts), not once at import.
- Any other cursor raises `InvalidCursor`, whose given handler answers 400
  `application/problem+json` with the invalid-cursor problem, never a 500 and never a page:
  an empty one, text that is not ASCII, a made-up or unsigned one, one signed under another
  secret, and an issued one with its first character changed or its last one dropped. A bad
  `limit` is the 422 even when the cursor is bad too.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Index
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"
CURSOR_SECRET = b"change me: the key that signs the cursors"
PROBLEM_JSON = "application/problem+json"
INVALID_CURSOR = {
    "type": "https://example.com/problems/invalid-cursor",
    "title": "Invalid cursor",
    "status": 400,
    "detail": "The cursor is not one this server issued.",
}


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_created_at_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    title: Mapped[str]


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    title: str


class Page(BaseModel):
    items: list[EventOut]
    next_cursor: str | None


class State(TypedDict):
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield {"engine": engine, "sessions": async_sessionmaker(engine, expire_on_commit=False)}
    await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


class InvalidCursor(Exception):
    """A cursor this server did not sign: changed, forged, or not a cursor at all."""


# TODO: Write the cursor: the last event's created_at and id, signed with hmac under CURSOR_SECRET.
# TODO: Read a cursor back, raising InvalidCursor unless its signature checks out.


app = FastAPI(lifespan=lifespan)


@app.exception_handler(InvalidCursor)
async def invalid_cursor(request: Request, exc: InvalidCursor) -> JSONResponse:
    body = INVALID_CURSOR | {"instance": request.url.path}
    return JSONResponse(body, status_code=400, media_type=PROBLEM_JSON)


@app.get("/events")
async def list_events(session: SessionDep, limit: int = 20, cursor: str | None = None) -> Page:
    # TODO: Accept limits from 1 to 100 only, so that FastAPI answers 422 for the rest.
    # TODO: Select limit + 1 events newest first, strictly after the cursor's (created_at, id).
    # TODO: Answer the first limit of them, with a next_cursor when there was one more.
    return Page(items=[], next_cursor=None)
