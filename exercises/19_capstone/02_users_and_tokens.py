"""Capstone, step 2: users and tokens. Every task now belongs to the user who created it.

This file is step 1's service (its reference, given whole) with users added: the tables, the
settings, the hashing, the clock and the bearer scheme are given. Write the user models, the
current-user dependency, `POST /users` and `POST /token`, and put the five task routes behind
the token, each seeing only its user's tasks.

Contract (the checks rely on every line):
- Everything step 1 promised still holds for a user with a token: the task's fields, the
  validation rules and their 422s, 404 `{"detail": "Task not found"}`, ids from 1 to
  MAX_ID, partial PATCH, 204 DELETE, the keyset list with `limit` clamped to 1..100 and
  `next`, and every answer documented in the OpenAPI (the fuzzer runs again).
- Given, keep these names: `app`, `password_hash`, `DUMMY_HASH`, `now`, `ALGORITHM`,
  `ACCESS_TOKEN_TTL`. The checks replace `password_hash` and `DUMMY_HASH` (with cheap Argon2
  that counts every hash made and verified), so read them when a request comes. The time
  is the `now` dependency (the checks override it): never call `time.time()` yourself.
  `JWT_SECRET` is read from the environment when the app starts (given, in the lifespan:
  `request.state.jwt_secret`); the checks set it.
- `POST /users` takes `{"username", "password"}`: a username of 3 to 32 characters, each a
  letter, a digit or `_`, lowercased once it is valid (`Alice` is stored and answered as
  `alice`); a password of at least 12 characters. Anything else answers 422 and stores
  nothing. The password is stored only as `password_hash.hash(password)`, never as itself.
  Answers 201 `{"username": ...}` (lowercased), or 409 `{"detail": "Username already
  taken"}` when the name is taken in any case (`ALICE` after `alice`).
- `POST /token` takes the OAuth2 password form (`OAuth2PasswordRequestForm`: a missing or
  empty field answers 422); the username is matched in any case. The right password answers
  200 `{"access_token": ..., "token_type": "bearer"}`: a PyJWT token signed with
  `JWT_SECRET` and `ALGORITHM` (HS256) with the claims `sub` (the stored username), `iat`
  (the clock, in whole seconds: `int(now)`) and `exp` (`iat + ACCESS_TOKEN_TTL`, 15 minutes).
- A wrong password and an unknown username answer the same 401 `{"detail": "Incorrect
  username or password"}` with `WWW-Authenticate: Bearer`, header for header, and every
  login attempt verifies exactly one hash: an unknown name is verified against `DUMMY_HASH`.
- Every `/tasks` route needs `Authorization: Bearer <token>`, checked before anything else
  about the request (a bad id or body without a token is a 401, not a 422). No token (or
  another scheme), and a token that cannot be trusted, answer 401 with a `WWW-Authenticate`
  header naming the `Bearer` scheme (`oauth2_scheme`, given, answers the first case by
  itself). Untrusted: not a JWT, a bad signature or another secret, another algorithm than
  HS256 (`none` included), a missing `sub`, `iat` or `exp`, expired (by the `now` clock,
  from `exp` on: `now >= exp`), or a `sub` that names no user.
- Tasks belong to the user who created them. Another user's task answers 404 `{"detail":
  "Task not found"}` on GET, PATCH and DELETE, as a task that does not exist (a 403 would
  tell that it exists), and changes nothing. `GET /tasks` lists only the user's own tasks:
  `limit`, `after`, `done` and `next` all work within them. A task answer shows no owner.
- A page of the list costs at most two SQL statements at any depth: the token's user, and
  the page (no COUNT, no OFFSET).
- Document the 401 (`responses=UNAUTHORIZED`, given) on every route that can answer it, and
  the 409. The checks fuzz every documented operation, with a valid token on every request.
- A warning is an error in the checks.
"""

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response, status
from fastapi.security import OAuth2PasswordBearer
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import DateTime, ForeignKey, String, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///tasks.sqlite3"
DEV_JWT_SECRET = "dev-only-secret-change-me-in-production"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_ID = 2**31 - 1  # the largest INTEGER of PostgreSQL
ALGORITHM = "HS256"
ACCESS_TOKEN_TTL = 15 * 60  # seconds

password_hash = PasswordHash((Argon2Hasher(),))
DUMMY_HASH = password_hash.hash("not anybody's password")  # verified for unknown users

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold the NUL character
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
Notes = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
# TODO: Username and Password, as Annotated types (a username is lowercased once valid).


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(200))


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(String(2000))
    due: Mapped[date | None]
    done: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


# TODO: the models of POST /users (its body and its answer) and of POST /token's answer.


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
    jwt_secret: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield {
        "engine": engine,
        "sessions": async_sessionmaker(engine, expire_on_commit=False),
        "jwt_secret": os.environ.get("JWT_SECRET", DEV_JWT_SECRET),
    }
    await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state.sessions.begin() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def now() -> float:
    """The clock, in seconds since the epoch: the checks override this dependency."""
    return time.time()


Now = Annotated[float, Depends(now)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")


# TODO: the dependency `current_user`: decode and check the bearer token, answer the user.
# TODO: its alias CurrentUser, for the task routes.


TaskId = Annotated[int, Path(ge=1, le=MAX_ID)]
UNAUTHORIZED = {401: {"model": Problem, "description": "Missing, expired or invalid token"}}
NOT_FOUND = {404: {"model": Problem, "description": "No such task"}}

app = FastAPI(title="Task tracker", lifespan=lifespan)


# TODO: the routes POST /users and POST /token.


# TODO: give every task route the current user: a task is created for its owner, found only
# by its owner (another user's is a 404) and listed only to its owner; document the 401.
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
