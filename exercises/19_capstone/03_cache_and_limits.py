"""Capstone, step 3: cached reads, limited writes, and a Redis the service can do without.

This file is step 2's service (its reference, given whole) with Redis opened in the lifespan
(given: `redis_from_env`, the state's "redis", `RedisDep`). Cache the read of one task per
user, delete the entry on the writes that change it, limit each user's writes, and keep
answering from the database when Redis is down.

Contract (the checks rely on every line):
- Everything steps 1 and 2 promised still holds: the checks sign up, log in, create, read,
  patch, delete and look at another user's task again, and fuzz every task operation the
  OpenAPI documents with a valid token.
- Given, keep these names: `app`, `now`, `password_hash`, `DUMMY_HASH` (the checks replace
  them as step 2's did), `TASK_TTL` (300), `WRITES_PER_WINDOW` (10), `WINDOW` (60),
  `redis_from_env`. The lifespan yields the client that `redis_from_env()` makes as the
  state's "redis" (REDIS_URL, or an in-process fakeredis, new at each start when it is
  unset): the checks read Redis through that client, and take Redis down by making it fail
  to connect. Send every Redis command through it.
- `GET /tasks/{task_id}` is cache-aside. It looks first for the entry at
  `tracker:v1:task:{username}:{task_id}` (username: the token's `sub`, as stored). An entry
  there is answered as it is, and such a hit sends no SQL statement at all: not for the
  task, and not for the user either (a token that checks out names its user; load the user
  only on a miss). A miss answers as step 2 did, and stores a task it found, as the JSON of
  its answer, at that key with an expiry of TASK_TTL seconds. A 404 stores nothing. Another
  user's task stays a 404.
- `PATCH` and `DELETE /tasks/{task_id}` commit their change, then delete the task's entry:
  the next read shows the change (or answers 404). Commit first: a read that comes in while
  the write commits must not put the old task back in the cache.
- Writes (`POST /tasks`, `PATCH` and `DELETE /tasks/{task_id}`) are limited per user: at
  most WRITES_PER_WINDOW in a window of WINDOW seconds. Windows start at whole multiples of
  WINDOW seconds of the `now` clock (window number `int(now // WINDOW)`), as clock minutes
  do, whenever the user's first write came. Every write with a valid token counts, whatever
  it answers (a 404 and a 422 count too). The next write in the same window answers 429
  `{"detail": "Too many writes"}` with a `Retry-After` header: the seconds left until the
  window ends, rounded up to a whole number (from 1 to 60, never 0, never a fraction). From
  the window's end on, the user may write again.
- Which answer wins: a write without a valid token answers 401; a write over the limit 429,
  before its id, its body or its task is looked at (no 422, no 404). Each user has their
  own count. Reads (`GET`) are never limited and do not count.
- The OpenAPI documents the 429 of each write (`responses=` with the `Problem` model), and
  no 429 on the reads.
- Every key the app writes to Redis expires: entries after TASK_TTL seconds, counters after
  (at least) a window.
- Redis is a speed-up, not a dependency: the app starts without it. When a Redis command
  fails with redis-py's `RedisError` (refused, timed out), a read counts as a miss and is
  answered from the database, a failed store or delete is skipped, and the write is not
  limited (its count cannot be read). The request answers as it would with Redis working,
  never a 500. When Redis answers again, reads are cached again.
- Not graded: the write counters' key names, and an entry a failed delete leaves behind (it
  lives until its TTL runs out).
- A warning is an error in the checks.
"""

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, TypedDict

import jwt
from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from redis.asyncio import Redis
from sqlalchemy import DateTime, ForeignKey, String, select
from sqlalchemy.exc import IntegrityError
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
TASK_TTL = 300  # seconds a cached task may be served without asking the database
WRITES_PER_WINDOW = 10
WINDOW = 60  # seconds; windows start at whole multiples of it, as clock minutes do
REDIS_TIMEOUT = 0.25  # seconds: a cache slower than this is no help

password_hash = PasswordHash((Argon2Hasher(),))
DUMMY_HASH = password_hash.hash("not anybody's password")  # verified for unknown users

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold the NUL character
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
Notes = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
Username = Annotated[
    str,
    StringConstraints(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_]+$"),
    AfterValidator(str.lower),
]
Password = Annotated[str, StringConstraints(min_length=12)]


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


class UserIn(BaseModel):
    username: Username
    password: Password


class UserOut(BaseModel):
    username: str


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


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
    redis: Redis


def redis_from_env() -> Redis:
    """The Redis that REDIS_URL names, or a new in-process fakeredis when it is unset."""
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
        )
    return FakeAsyncRedis(decode_responses=True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    redis = redis_from_env()  # connects at its first command: starting needs no Redis
    yield {
        "engine": engine,
        "sessions": async_sessionmaker(engine, expire_on_commit=False),
        "jwt_secret": os.environ.get("JWT_SECRET", DEV_JWT_SECRET),
        "redis": redis,
    }
    await redis.aclose()
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


# TODO: Check the token apart from loading its user, so that a cache hit needs no SQL.
async def current_user(
    token: Annotated[str, Depends(oauth2_scheme)], request: Request, session: SessionDep, now: Now
) -> UserRow:
    invalid = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "Invalid token",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
    try:
        claims = jwt.decode(
            token,
            request.state.jwt_secret,
            algorithms=[ALGORITHM],
            # the injected clock judges expiry, not PyJWT's wall clock
            options={"require": ["sub", "iat", "exp"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        raise invalid from None
    if now >= claims["exp"]:
        raise invalid
    user = await session.scalar(select(UserRow).where(UserRow.username == claims["sub"]))
    if user is None:
        raise invalid
    return user


CurrentUser = Annotated[UserRow, Depends(current_user)]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID)]
UNAUTHORIZED = {401: {"model": Problem, "description": "Missing, expired or invalid token"}}
NOT_FOUND = {404: {"model": Problem, "description": "No such task"}}


async def get_redis(request: Request) -> Redis:
    return request.state.redis


RedisDep = Annotated[Redis, Depends(get_redis)]

# TODO: Run every Redis command so that a RedisError is a miss, or a skipped step, not a 500.
# TODO: Limit each user's writes per window with a dependency that answers 429 and Retry-After.
# TODO: Put the limit on POST, PATCH and DELETE, and document their 429.

app = FastAPI(title="Task tracker", lifespan=lifespan)


async def find_task(session: AsyncSession, task_id: int, user: UserRow) -> TaskRow:
    row = await session.get(TaskRow, task_id)
    # another user's task is as missing as a deleted one: a 403 would confirm it exists
    if row is None or row.owner_id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Task not found")
    return row


@app.post("/tasks", status_code=status.HTTP_201_CREATED, responses=UNAUTHORIZED)
async def create_task(
    body: TaskIn, user: CurrentUser, session: SessionDep, response: Response
) -> Task:
    row = TaskRow(**body.model_dump(), owner_id=user.id)
    session.add(row)
    await session.flush()
    response.headers["Location"] = f"/tasks/{row.id}"
    return Task.model_validate(row)


# TODO: Answer from the user's entry in Redis when there is one; store a task found on a miss.
@app.get("/tasks/{task_id}", responses={**UNAUTHORIZED, **NOT_FOUND})
async def read_task(task_id: TaskId, user: CurrentUser, session: SessionDep) -> Task:
    return Task.model_validate(await find_task(session, task_id, user))


# TODO: Commit the change, then delete the task's entry, in PATCH and DELETE.
@app.patch("/tasks/{task_id}", responses={**UNAUTHORIZED, **NOT_FOUND})
async def update_task(
    task_id: TaskId, body: TaskPatch, user: CurrentUser, session: SessionDep
) -> Task:
    row = await find_task(session, task_id, user)
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(row, field, value)
    await session.flush()
    return Task.model_validate(row)


@app.delete(
    "/tasks/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**UNAUTHORIZED, **NOT_FOUND},
)
async def delete_task(task_id: TaskId, user: CurrentUser, session: SessionDep) -> None:
    await session.delete(await find_task(session, task_id, user))


@app.get("/tasks", responses=UNAUTHORIZED)
async def list_tasks(
    user: CurrentUser,
    session: SessionDep,
    done: bool | None = None,
    limit: int = DEFAULT_LIMIT,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> TaskPage:
    limit = min(max(limit, 1), MAX_LIMIT)
    query = select(TaskRow).where(TaskRow.owner_id == user.id).order_by(TaskRow.id).limit(limit + 1)
    if done is not None:
        query = query.where(TaskRow.done == done)
    if after is not None:
        query = query.where(TaskRow.id > after)
    rows = (await session.scalars(query)).all()
    items = [Task.model_validate(row) for row in rows[:limit]]
    return TaskPage(items=items, next=items[-1].id if len(rows) > limit else None)


@app.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": Problem, "description": "Username taken"}},
)
async def create_user(body: UserIn, session: SessionDep) -> UserOut:
    hashed = await run_in_threadpool(password_hash.hash, body.password)
    session.add(UserRow(username=body.username, hashed_password=hashed))
    try:
        await session.flush()
    except IntegrityError:
        raise HTTPException(status.HTTP_409_CONFLICT, "Username already taken") from None
    return UserOut(username=body.username)


@app.post("/token", responses=UNAUTHORIZED)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    now: Now,
) -> Token:
    name = form.username.lower()
    user = await session.scalar(select(UserRow).where(UserRow.username == name))
    # an unknown name costs one verification too, so neither answer nor timing tells
    stored = DUMMY_HASH if user is None else user.hashed_password
    valid = await run_in_threadpool(password_hash.verify, form.password, stored)
    if user is None or not valid:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    issued_at = int(now)
    claims = {"sub": user.username, "iat": issued_at, "exp": issued_at + ACCESS_TOKEN_TTL}
    return Token(access_token=jwt.encode(claims, request.state.jwt_secret, algorithm=ALGORITHM))
