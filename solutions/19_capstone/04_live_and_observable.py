"""Step 4 of the capstone: live events over Redis pub/sub, JSON access logs, metrics, probes."""

import asyncio
import json
import logging
import math
import os
import re
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, suppress
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
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
    status,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
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
from sqlalchemy import DateTime, ForeignKey, String, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    hub: "Hub"
    registry: CollectorRegistry
    requests: Counter


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


def events_channel(username: str) -> str:
    return f"tracker:v1:events:{username}"


def ticks() -> float:
    """Seconds on a monotonic clock, for durations: the checks replace it."""
    return time.perf_counter()


class Hub:
    """This instance's sockets by user, fed by one pattern subscription to every user's events."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.sockets: defaultdict[str, set[WebSocket]] = defaultdict(set)
        self.listening = asyncio.Event()

    async def listen(self) -> None:
        """Hand each event to this instance's sockets of its user; outlive a Redis outage."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.psubscribe(events_channel("*"))
                    async for message in pubsub.listen():
                        if message["type"] == "psubscribe":
                            self.listening.set()
                        elif message["type"] == "pmessage":
                            user = message["channel"].removeprefix(events_channel(""))
                            await self.deliver(user, message["data"])
            except RedisError:
                await asyncio.sleep(RESUBSCRIBE_DELAY)

    async def deliver(self, user: str, frame: str) -> None:
        for websocket in list(self.sockets[user]):
            try:
                await websocket.send_text(frame)
            except WebSocketDisconnect:  # its peer vanished: drop it, the others still hear
                self.sockets[user].discard(websocket)


async def publish(redis: Redis, username: str, event: Event) -> None:
    """Tell every instance, through Redis: call it only once the change is committed."""
    await attempt(redis.publish(events_channel(username), event.model_dump_json()))


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


class Observed:
    """One JSON access line and one count per HTTP request, by the route template it matched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = Headers(scope=scope).get(REQUEST_ID, "")
        request_id = sent if ACCEPTABLE_ID.fullmatch(sent) else uuid.uuid4().hex
        status_code = 500  # what the client gets when the app raises before a response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID] = request_id
            await send(message)

        start = ticks()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # read after the app ran: the router puts the route it matched in the scope
            route = getattr(scope.get("route"), "path", UNMATCHED)
            fields = {
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "status": status_code,
                "duration_ms": round((ticks() - start) * 1000, 3),
            }
            level = logging.ERROR if status_code >= 500 else logging.INFO
            access_logger.log(level, "%s %s %s", scope["method"], route, status_code, extra=fields)
            if route != METRICS_PATH:
                requests: Counter = scope["state"]["requests"]
                requests.labels(scope["method"], route, str(status_code)).inc()


async def check(probe: Awaitable[object]) -> Check:
    """ "ok" when the probe answers within CHECK_TIMEOUT, "down" when it fails or is late."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await probe
    except Exception:
        return "down"
    return "ok"


async def ping_database(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def socket_user(websocket: WebSocket, now: Now, token: str = "") -> str:
    """The user /ws?token=... names, checked as the routes check a Bearer token."""
    try:
        username = await token_subject(token, websocket, now)
        async with websocket.state.sessions() as session:
            await current_user(username, session)
    except HTTPException:
        # raised before accept(): the handshake is refused, no frame reaches the client
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "Invalid token") from None
    return username


async def get_hub(connection: HTTPConnection) -> Hub:
    return connection.state.hub


HubDep = Annotated[Hub, Depends(get_hub)]
live = APIRouter()


@live.websocket("/ws")
async def notifications(
    websocket: WebSocket, username: Annotated[str, Depends(socket_user)], hub: HubDep
) -> None:
    await websocket.accept()
    hub.sockets[username].add(websocket)  # no await since the accept: no event can slip by
    try:
        while True:
            await websocket.receive_text()  # the client says nothing; this waits for it to go
    except WebSocketDisconnect:
        pass
    finally:
        hub.sockets[username].discard(websocket)


@live.get("/healthz")
async def healthz() -> Health:
    return Health()


@live.get(
    "/readyz",
    responses={503: {"model": Readiness, "description": "The database or Redis is down"}},
)
async def readyz(request: Request, response: Response) -> Readiness:
    readiness = Readiness(
        database=await check(ping_database(request.state.engine)),
        redis=await check(request.state.redis.ping()),
    )
    if "down" in (readiness.database, readiness.redis):
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return readiness


@live.get(METRICS_PATH, include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.state.registry), media_type=CONTENT_TYPE_LATEST)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    redis = redis_from_env()  # connects at its first command: starting needs no Redis
    hub = Hub(redis)
    listener = asyncio.create_task(hub.listen())
    with suppress(TimeoutError):  # Redis down: start anyway, the listener keeps trying
        async with asyncio.timeout(REDIS_TIMEOUT):
            await hub.listening.wait()
    registry = CollectorRegistry()  # each app counts its own, never the global REGISTRY
    yield {
        "engine": engine,
        "sessions": async_sessionmaker(engine, expire_on_commit=False),
        "jwt_secret": os.environ.get("JWT_SECRET", DEV_JWT_SECRET),
        "redis": redis,
        "hub": hub,
        "registry": registry,
        "requests": Counter(
            "http_requests_total",
            "HTTP requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        ),
    }
    listener.cancel()
    with suppress(asyncio.CancelledError):
        await listener
    await redis.aclose()
    await engine.dispose()


# --- the task service

app = FastAPI(title="Task tracker", lifespan=lifespan)
app.add_middleware(Observed)
app.include_router(live)


async def find_task(session: AsyncSession, task_id: int, user: UserRow) -> TaskRow:
    row = await session.get(TaskRow, task_id)
    # another user's task is as missing as a deleted one: a 403 would confirm it exists
    if row is None or row.owner_id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Task not found")
    return row


@app.post(
    "/tasks",
    status_code=status.HTTP_201_CREATED,
    dependencies=LIMITED,
    responses={**UNAUTHORIZED, **TOO_MANY},
)
async def create_task(
    body: TaskIn, user: CurrentUser, session: SessionDep, redis: RedisDep, response: Response
) -> Task:
    row = TaskRow(**body.model_dump(), owner_id=user.id)
    session.add(row)
    await session.commit()
    task = Task.model_validate(row)
    # only once committed: an event for a write that then rolls back would announce a lie
    await publish(redis, user.username, Event(event="created", task=task))
    response.headers["Location"] = f"/tasks/{row.id}"
    return task


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
    task = Task.model_validate(row)
    await publish(redis, user.username, Event(event="updated", task=task))
    return task


@app.delete(
    "/tasks/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=LIMITED,
    responses={**UNAUTHORIZED, **NOT_FOUND, **TOO_MANY},
)
async def delete_task(
    task_id: TaskId, user: CurrentUser, session: SessionDep, redis: RedisDep
) -> None:
    row = await find_task(session, task_id, user)
    task = Task.model_validate(row)  # the event shows the task as it was
    await session.delete(row)
    await session.commit()
    await attempt(redis.delete(task_key(user.username, task_id)))
    await publish(redis, user.username, Event(event="deleted", task=task))


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
