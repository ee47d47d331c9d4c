"""Capstone, step 4: live events, JSON access logs, metrics and probes, fuzzed once more.

This file is step 3's service (its reference, given whole) with the names step 4 needs
given: the models `Event`, `Health` and `Readiness`, `ticks`, `JsonFormatter` and the
`tracker.access` logger, and a router `live` already included in the app. Tell each user
about their tasks as they change, on a WebSocket, through Redis so that every instance of
the service hears every write; log and count every request; answer the probes of the
platform that runs the service.

Contract (the checks rely on every line):
- Everything steps 1 to 3 promised still holds: the checks sign up, log in, create, read,
  patch, delete, look at another user's task, read from the cache, hit the write limit and
  take Redis down again, and fuzz every operation the OpenAPI documents with a valid token.
- Given, keep these names: `app`, `now`, `password_hash`, `DUMMY_HASH`, `redis_from_env`,
  `ticks`, `JsonFormatter`, `RESUBSCRIBE_DELAY`. The checks replace `now` and the hashes as
  before, `ticks` with their own clock, and `RESUBSCRIBE_DELAY` with 0; they make two
  instances of the service share one embedded Redis by replacing `redis_from_env` in two
  copies of this module. The lifespan calls it once per start, and every Redis command,
  PUBLISH and PING included, goes through the client it returns (the state's "redis").
- `WS /ws?token=<access token>`: the token is checked as the Bearer routes check theirs
  (HS256 with the app's secret; `sub`, `iat` and `exp` present; expired once `now` reaches
  `exp`; `sub` names an existing user). A missing, empty or failing token closes the
  handshake with 1008 (policy violation) before accepting it: the client sees a close,
  never an accept. A valid token is accepted. The client sends nothing; the server sends
  events only, and the handler ends quietly when the client leaves.
- Events: each write that succeeds (POST 201, PATCH 200, an empty patch included, DELETE
  204) publishes one event once its change is committed, and every socket of the task's
  owner, on every instance, receives it once, as a text frame holding
  `{"event": "created" | "updated" | "deleted", "task": {...}}`: the task as the route
  answered it; for a delete, the task as it was just before. No other user receives it.
  A write that fails (401, 404, 422, 429, or a commit the database refuses) publishes
  nothing.
- Publish only after the commit: the session dependency commits after the route returns,
  so a write commits in the route (`await session.commit()`) and then publishes. Each event
  is one PUBLISH through the state's client; a PUBLISH that fails (RedisError) is skipped,
  as the cache commands are: the write answers as it would, the event is lost.
- Delivery goes through Redis pub/sub, never straight to this instance's sockets: each
  instance's listener task hands every event it hears to its own sockets of the event's
  user, so two instances on one Redis deliver each other's events. From the moment a
  handshake is accepted, the socket gets its user's events: the subscription that feeds it
  is in place by then (the reference subscribes once, in the lifespan, to every user's
  channel by pattern, and registers the socket with no await after the accept). A socket
  whose send fails (its client vanished) is dropped, and the others still get theirs.
- The lifespan starts the listener and waits until Redis has confirmed its subscription
  (at most REDIS_TIMEOUT) before the app takes requests. Redis down: the app starts
  anyway, and a listener that meets a RedisError waits RESUBSCRIBE_DELAY (read when it
  waits) and subscribes again, so events flow once Redis answers. At shutdown the listener
  is cancelled and awaited before Redis is closed: no task of the app is left running.
  Channel names and the messages on them are yours.
- One access record per HTTP request, on the logger `tracker.access`, logged after the app
  has returned or raised, by a pure ASGI middleware (WebSockets and the lifespan pass
  through it untouched). Its `extra` fields: `request_id`; `method`; `route`, the template
  of the route that matched (`/tasks/{task_id}`, never `/tasks/7`; also for a 404 raised by
  the route, a 401, a 422 and a 405), UNMATCHED when no route matched; `status`, the status
  sent (an int), 500 when the app raised before starting a response; `duration_ms`,
  `(ticks() after - ticks() before) * 1000`, rounded to 3 places, ticks read when the
  request is served. Level INFO, ERROR for a status of 500 or more. `JsonFormatter` (given)
  turns the record into one JSON line; the message text is yours.
- The request id: an `X-Request-ID` the client sent is kept when it matches ACCEPTABLE_ID
  (1 to 64 ASCII letters, digits, '.', '_', '-'), otherwise, or when none was sent, a new
  one is made (`uuid.uuid4().hex`), different for every request. The same id is in the
  record and in the `X-Request-ID` header of the answer.
- `GET /metrics` answers `generate_latest(<the app's registry>)` with the media type
  `CONTENT_TYPE_LATEST`. The registry is made in the lifespan, at each start (never
  prometheus_client's global REGISTRY): a new start counts from zero, and a second copy
  of the module loads. `http_requests_total`, a Counter labelled exactly `method`,
  `route` (as in the record) and `status` (as a string), counts every HTTP request once,
  except those to /metrics. /metrics is left out of the OpenAPI.
- `GET /healthz` answers 200 `{"status": "ok"}` while the process runs, whatever the
  database and Redis do. `GET /readyz` checks both on every request, each bounded by
  CHECK_TIMEOUT: `SELECT 1` on the database, `PING` on the state's Redis client; it answers
  `{"database": "ok" | "down", "redis": "ok" | "down"}`, 200 when both are ok, 503
  otherwise (any exception or a timeout is "down"), and the OpenAPI documents its 503 with
  the `Readiness` model. Neither needs a token.
- The fuzzer runs over everything the OpenAPI documents, /healthz and /readyz included;
  /ws and /metrics are not in it.
- Not graded: what is logged or counted for /ws, /ws while Redis is down, frames a client
  sends, and the order of events on two different users' sockets.
- A warning is an error in the checks.
"""

import json
import logging
import math
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypedDict, TypeVar

import jwt
from fakeredis import FakeAsyncRedis
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)
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
from redis.exceptions import RedisError
from sqlalchemy import DateTime, ForeignKey, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.requests import HTTPConnection

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
RESUBSCRIBE_DELAY = 1.0  # seconds between attempts to subscribe while Redis is down
CHECK_TIMEOUT = 0.5  # seconds: a dependency slower than this is not ready
REQUEST_ID = "X-Request-ID"
ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
UNMATCHED = "<unmatched>"
METRICS_PATH = "/metrics"
ACCESS_FIELDS = ("request_id", "method", "route", "status", "duration_ms")

T = TypeVar("T")

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


class Event(BaseModel):
    event: Literal["created", "updated", "deleted"]
    task: Task


Check = Literal["ok", "down"]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    database: Check
    redis: Check


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


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state.sessions.begin() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def now() -> float:
    """The clock, in seconds since the epoch: the checks override this dependency."""
    return time.time()


Now = Annotated[float, Depends(now)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")


def invalid_token() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "Invalid token",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def token_subject(
    token: Annotated[str, Depends(oauth2_scheme)], request: HTTPConnection, now: Now
) -> str:
    try:
        claims = jwt.decode(
            token,
            request.state.jwt_secret,
            algorithms=[ALGORITHM],
            # the injected clock judges expiry, not PyJWT's wall clock
            options={"require": ["sub", "iat", "exp"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        raise invalid_token() from None
    if now >= claims["exp"]:
        raise invalid_token()
    return claims["sub"]


Subject = Annotated[str, Depends(token_subject)]


async def current_user(username: Subject, session: SessionDep) -> UserRow:
    user = await session.scalar(select(UserRow).where(UserRow.username == username))
    if user is None:
        raise invalid_token()
    return user


CurrentUser = Annotated[UserRow, Depends(current_user)]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID)]
UNAUTHORIZED = {401: {"model": Problem, "description": "Missing, expired or invalid token"}}
NOT_FOUND = {404: {"model": Problem, "description": "No such task"}}
TOO_MANY = {429: {"model": Problem, "description": "Too many writes: wait Retry-After seconds"}}


async def get_redis(request: Request) -> Redis:
    return request.state.redis


RedisDep = Annotated[Redis, Depends(get_redis)]


async def attempt(command: Awaitable[T]) -> T | None:
    """Redis as a speed-up only: a command that fails counts as a miss, or is skipped."""
    try:
        return await command
    except RedisError:
        return None


async def limit_writes(user: CurrentUser, redis: RedisDep, now: Now) -> None:
    window = int(now // WINDOW)
    key = f"tracker:v1:writes:{user.username}:{window}"
    counted = await attempt(redis.pipeline().incr(key).expire(key, WINDOW).execute())
    # no Redis, no limit: refusing every write during an outage would be worse
    if counted is not None and counted[0] > WRITES_PER_WINDOW:
        retry_after = math.ceil((window + 1) * WINDOW - now)  # at least 1: now < window's end
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "Too many writes",
            headers={"Retry-After": str(retry_after)},
        )


LIMITED = [Depends(limit_writes)]


def task_key(username: str, task_id: int) -> str:
    return f"tracker:v1:task:{username}:{task_id}"


# --- the live layer: events over Redis pub/sub, access logs, metrics, probes


def ticks() -> float:
    """Seconds on a monotonic clock, for durations: the checks replace it."""
    return time.perf_counter()


# TODO: Write a hub: this instance's sockets by user, and a listener that subscribes on Redis
# (in a loop that outlives a RedisError) and hands each event to its user's sockets here.

# TODO: Write a publish helper that sends an Event through the guarded Redis client.

access_logger = logging.getLogger("tracker.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ACCESS_FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        return json.dumps(line)


# TODO: Write a pure ASGI middleware: the request id, one access record, one count per request.

live = APIRouter()

# TODO: Add WS /ws: check ?token= before accepting (1008), then register the socket.
# TODO: Add GET /healthz, GET /readyz (503 documented) and GET /metrics (left out of the OpenAPI).


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    redis = redis_from_env()  # connects at its first command: starting needs no Redis
    # TODO: Start the listener, wait (REDIS_TIMEOUT at most) for its subscription; make a registry.
    yield {
        "engine": engine,
        "sessions": async_sessionmaker(engine, expire_on_commit=False),
        "jwt_secret": os.environ.get("JWT_SECRET", DEV_JWT_SECRET),
        "redis": redis,
    }
    # TODO: Cancel the listener and wait for it to end before closing Redis.
    await redis.aclose()
    await engine.dispose()


# --- the task service

app = FastAPI(title="Task tracker", lifespan=lifespan)
# TODO: Add the middleware.
app.include_router(live)


async def find_task(session: AsyncSession, task_id: int, user: UserRow) -> TaskRow:
    row = await session.get(TaskRow, task_id)
    # another user's task is as missing as a deleted one: a 403 would confirm it exists
    if row is None or row.owner_id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Task not found")
    return row


# TODO: Publish an event after each successful write, once its change is committed.
@app.post(
    "/tasks",
    status_code=status.HTTP_201_CREATED,
    dependencies=LIMITED,
    responses={**UNAUTHORIZED, **TOO_MANY},
)
async def create_task(
    body: TaskIn, user: CurrentUser, session: SessionDep, response: Response
) -> Task:
    row = TaskRow(**body.model_dump(), owner_id=user.id)
    session.add(row)
    await session.flush()
    response.headers["Location"] = f"/tasks/{row.id}"
    return Task.model_validate(row)


@app.get("/tasks/{task_id}", responses={**UNAUTHORIZED, **NOT_FOUND})
async def read_task(
    task_id: TaskId, username: Subject, session: SessionDep, redis: RedisDep
) -> Task:
    key = task_key(username, task_id)
    # a hit needs no SQL at all: the token names the user, the key holds only their own task
    if (cached := await attempt(redis.get(key))) is not None:
        return Task.model_validate_json(cached)
    user = await current_user(username, session)
    task = Task.model_validate(await find_task(session, task_id, user))
    await attempt(redis.set(key, task.model_dump_json(), ex=TASK_TTL))
    return task


@app.patch(
    "/tasks/{task_id}",
    dependencies=LIMITED,
    responses={**UNAUTHORIZED, **NOT_FOUND, **TOO_MANY},
)
async def update_task(
    task_id: TaskId, body: TaskPatch, user: CurrentUser, session: SessionDep, redis: RedisDep
) -> Task:
    row = await find_task(session, task_id, user)
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(row, field, value)
    await session.commit()
    # only once committed: a read before the commit would cache the old task again
    await attempt(redis.delete(task_key(user.username, task_id)))
    return Task.model_validate(row)


@app.delete(
    "/tasks/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=LIMITED,
    responses={**UNAUTHORIZED, **NOT_FOUND, **TOO_MANY},
)
async def delete_task(
    task_id: TaskId, user: CurrentUser, session: SessionDep, redis: RedisDep
) -> None:
    await session.delete(await find_task(session, task_id, user))
    await session.commit()
    await attempt(redis.delete(task_key(user.username, task_id)))


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
