"""Keyset pagination: the newest events first, one query per page, behind signed cursors."""

import base64
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Index, select, tuple_
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signature(payload: str) -> str:
    return _b64(hmac.digest(CURSOR_SECRET, payload.encode(), hashlib.sha256))


def encode_cursor(event: Event) -> str:
    payload = _b64(json.dumps([event.created_at.isoformat(), event.id]).encode())
    return f"{payload}.{_signature(payload)}"


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    payload, _, signature = cursor.partition(".")
    # compare bytes, in constant time: a str with non-ASCII text would make compare_digest raise
    if not hmac.compare_digest(signature.encode(), _signature(payload).encode()):
        raise InvalidCursor
    created_at, event_id = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return datetime.fromisoformat(created_at), event_id


app = FastAPI(lifespan=lifespan)


@app.exception_handler(InvalidCursor)
async def invalid_cursor(request: Request, exc: InvalidCursor) -> JSONResponse:
    body = INVALID_CURSOR | {"instance": request.url.path}
    return JSONResponse(body, status_code=400, media_type=PROBLEM_JSON)


@app.get("/events")
async def list_events(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Page:
    newest_first = (Event.created_at.desc(), Event.id.desc())
    query = select(Event).order_by(*newest_first).limit(limit + 1)  # one more: is there a next?
    if cursor is not None:
        # strictly after the last row sent, in the same order: ties on created_at go by id
        query = query.where(tuple_(Event.created_at, Event.id) < decode_cursor(cursor))
    rows = (await session.scalars(query)).all()
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return Page.model_validate({"items": rows[:limit], "next_cursor": next_cursor})
