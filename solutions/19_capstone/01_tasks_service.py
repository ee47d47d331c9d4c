"""Step 1 of the capstone: a team task tracker, tasks CRUD over async SQL with a keyset list."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import DateTime, String, select
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
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
Notes = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]


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


class TaskIn(BaseModel):
    title: Title
    notes: Notes | None = None
    due: date | None = None


class TaskPatch(BaseModel):
    title: Title | None = None
    notes: Notes | None = None
    due: date | None = None
    done: bool | None = None

    @field_validator("title", "done")
    @classmethod
    def not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be left out but not set to null")
        return value


class Task(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    notes: str | None
    due: date | None
    done: bool
    created_at: datetime

    @field_validator("created_at")
    @classmethod
    def in_utc(cls, value: datetime) -> datetime:
        # SQLite hands back naive datetimes; they were written in UTC.
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class TaskPage(BaseModel):
    items: list[Task]
    next: int | None = Field(description="Pass as `after` for the next page; null on the last.")


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
TaskId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOT_FOUND = {404: {"model": Problem, "description": "No such task"}}

app = FastAPI(title="Task tracker", lifespan=lifespan)


async def find_task(session: AsyncSession, task_id: int) -> TaskRow:
    row = await session.get(TaskRow, task_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Task not found")
    return row


@app.post("/tasks", status_code=status.HTTP_201_CREATED)
async def create_task(body: TaskIn, session: SessionDep, response: Response) -> Task:
    row = TaskRow(**body.model_dump())
    session.add(row)
    await session.flush()
    response.headers["Location"] = f"/tasks/{row.id}"
    return Task.model_validate(row)


@app.get("/tasks")
async def list_tasks(
    session: SessionDep,
    done: bool | None = None,
    limit: int = DEFAULT_LIMIT,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> TaskPage:
    limit = min(max(limit, 1), MAX_LIMIT)
    query = select(TaskRow).order_by(TaskRow.id).limit(limit + 1)
    if done is not None:
        query = query.where(TaskRow.done == done)
    if after is not None:
        query = query.where(TaskRow.id > after)
    rows = (await session.scalars(query)).all()
    items = [Task.model_validate(row) for row in rows[:limit]]
    return TaskPage(items=items, next=items[-1].id if len(rows) > limit else None)


@app.get("/tasks/{task_id}", responses=NOT_FOUND)
async def read_task(task_id: TaskId, session: SessionDep) -> Task:
    return Task.model_validate(await find_task(session, task_id))


@app.patch("/tasks/{task_id}", responses=NOT_FOUND)
async def update_task(task_id: TaskId, body: TaskPatch, session: SessionDep) -> Task:
    row = await find_task(session, task_id)
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(row, field, value)
    await session.flush()
    return Task.model_validate(row)


@app.delete("/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_task(task_id: TaskId, session: SessionDep) -> None:
    await session.delete(await find_task(session, task_id))
