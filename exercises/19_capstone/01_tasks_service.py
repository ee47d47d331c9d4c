"""Capstone, step 1: the team task tracker's tasks, over async SQL, fit to be fuzzed.

The service grows over four steps; this file is its first. The table, the settings, the
lifespan and the session dependency are given; write the request and response models and
the five routes.

Contract (the checks rely on every line):
- `app` (keep this name) is the FastAPI app; its lifespan (given) opens the engine named by
  DATABASE_URL (default a SQLite file), creates the tables and yields the state. One session
  per request, in one transaction (`SessionDep`, given).
- A task, as every route answers it, is exactly `{"id", "title", "notes", "due", "done",
  "created_at"}`: id an integer; notes a string or null; due an ISO date (`"2026-02-28"`) or
  null; done a boolean; created_at an ISO 8601 date-time WITH its UTC offset (SQLite hands
  back naive datetimes: they were written in UTC, say so before answering).
- `POST /tasks` takes `{"title", "notes"?, "due"?}` and answers 201 with the new task (done
  false) and a `Location: /tasks/{id}` header. title is stripped of surrounding whitespace,
  then must be 1 to 200 characters; notes at most 2000 characters, or null; due a real date,
  or null. Neither title nor notes may contain the NUL character (PostgreSQL cannot store
  it). Anything else answers 422 and stores nothing.
- A task id in a path is a whole number from 1 to 2147483647 (`MAX_ID`, PostgreSQL's largest
  INTEGER); anything else answers 422. A task that does not exist answers 404
  `{"detail": "Task not found"}` on GET, PATCH and DELETE.
- `GET /tasks/{task_id}` answers 200 with the task.
- `PATCH /tasks/{task_id}` takes any of title, notes, due, done, with the same rules as
  POST, and changes only the fields sent: `{}` answers 200 with the task unchanged. notes and
  due may be null (which clears them); title and done may be left out but not sent as null
  (422). An invalid patch changes nothing. Answers 200 with the task as it is now.
- `DELETE /tasks/{task_id}` answers 204 with no body; the task is gone (404 after).
- `GET /tasks?done=&limit=&after=` answers `{"items": [tasks], "next": id or null}`: tasks in
  order of id, only those with an id greater than `after` (0 to MAX_ID, else 422) when it is
  given, only done (or not done) ones when `done` is given. `limit` (default 20) is clamped to
  1..100: less than 1 lists one task, more than 100 lists 100. `next` is the id of the page's
  last task when at least one more task (that the filter keeps) follows it, else null: pass
  it as `after` for the next page. A page is exactly ONE SQL statement at any depth (keyset
  pagination: `WHERE id > after ORDER BY id LIMIT limit + 1`; no OFFSET, no COUNT).
- The OpenAPI documents every answer: declare the response models (return annotations), and
  the 404 body (`responses=` with the `Problem` model) on the routes that can answer it. The
  checks send generated requests to every documented operation (schemathesis): none may get a
  5xx, and every answer must match its documented status, content type and schema.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy import DateTime, String
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///tasks.sqlite3"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_ID = 2**31 - 1  # the largest INTEGER of PostgreSQL

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold the NUL character
# TODO: Title and Notes, as Annotated[str, StringConstraints(...)] types.


class Base(DeclarativeBase):
    pass


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(String(2000))
    due: Mapped[date | None]
    done: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


# TODO: the models TaskIn, TaskPatch, Task and TaskPage.


class Problem(BaseModel):
    detail: str


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
    async with request.state.sessions.begin() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

app = FastAPI(title="Task tracker", lifespan=lifespan)

# TODO: the routes POST /tasks, GET /tasks, GET, PATCH and DELETE /tasks/{task_id}.
