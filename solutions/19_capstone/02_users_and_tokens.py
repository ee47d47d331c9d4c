"""Step 2 of the capstone: users with Argon2 hashes, HS256 bearer tokens, tasks owned."""

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, TypedDict

import jwt
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

app = FastAPI(title="Task tracker", lifespan=lifespan)


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


@app.get("/tasks/{task_id}", responses={**UNAUTHORIZED, **NOT_FOUND})
async def read_task(task_id: TaskId, user: CurrentUser, session: SessionDep) -> Task:
    return Task.model_validate(await find_task(session, task_id, user))


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
