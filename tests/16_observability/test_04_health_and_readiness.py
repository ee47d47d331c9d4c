"""Hidden suite for 16_observability/04_health_and_readiness: alive is not ready.

Every check starts the app on a fresh database and an empty Redis (the `database_url` and
`redis_url` fixtures), the embedded ones or real servers.  Dependencies go down in these ways,
the same on both:
- Redis: `REDIS_URL` names `services.UNREACHABLE_REDIS_URL` (refuses at once), or a server
  this suite runs that accepts connections and never answers, or the app's own client has its
  `execute_command` replaced while the app runs (it raises, or it never returns);
- the database: dropped before the app starts (on SQLite, a folder stands where the file
  would be), created again later; or `DATABASE_URL` names a PostgreSQL that never answers.
SQL is counted with `count_statements()`; Redis commands through the client's
`execute_command`.  No sleeps: `HANG_GUARD` only stops an app that waits far too long.
"""

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import ModuleType
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import make_url, text

from workbook.services import (
    UNREACHABLE_REDIS_URL,
    _admin,
    count_statements,
    drop_database,
)
from workbook.testing import HANG_GUARD, expect, expect_equal, expect_json, expect_status, running

pytestmark = pytest.mark.filterwarnings("error")

READY = {"database": "ok", "redis": "ok"}
DRAINING = {"status": "draining"}
ALIVE = {"status": "ok"}

READ_BOTH = (
    "Does /readyz run SELECT 1 on the engine and PING on the Redis client, and answer 200 "
    '{"database": "ok", "redis": "ok"} when both succeed?'
)
NAME_IT = (
    "Does /readyz catch the failure of each check on its own, answer 503, and name the one "
    'that failed with "down" while the other still says "ok"?'
)
ANY_ERROR = (
    'Any exception a check raises makes its dependency "down": is the check\'s except '
    "clause wide enough (except Exception), rather than one library's error class?"
)
BOUNDED = (
    "Is each check bounded by CHECK_TIMEOUT (0.5 s), with asyncio.timeout or "
    "anyio.fail_after around it? A dependency that never answers must not hold the probe."
)
ALIVE_HELP = (
    '/healthz answers 200 {"status": "ok"} whenever the process can answer: does it check '
    "a dependency it should leave alone?"
)
STARTS = (
    "Does the lifespan talk to the database or Redis (a create_all, a ping) and fail when it "
    "cannot? The engine and the client connect at first use: starting needs neither."
)
EVERY_TIME = (
    "Does /readyz check again on every request? A remembered result says nothing about "
    "the dependency now."
)
DRAIN = (
    'While state["lifecycle"].draining is true, /readyz answers 503 {"status": "draining"} '
    "and checks nothing; /healthz still answers 200."
)
READS_TIMEOUT = (
    "Does each check use the module's CHECK_TIMEOUT when it runs, rather than a number of "
    "its own? The checks set CHECK_TIMEOUT to 0, and then nothing can be in time."
)
SHUTDOWN = (
    'Does the lifespan set state["lifecycle"].draining to True as soon as the app starts '
    "shutting down, before it closes the Redis client and disposes of the engine?"
)
PER_APP = (
    "Is the lifecycle made in the lifespan, one per start of the app? A module-level one "
    "stays draining for the next start."
)


@pytest.fixture(autouse=True)
def services(database_url: str, redis_url: str | None) -> None:
    """Each check gets an empty database and an empty Redis, named by the environment."""


@pytest.fixture
def unreachable_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", UNREACHABLE_REDIS_URL)


@pytest.fixture
async def dropped_database(database_url: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """The check's database is gone; awaiting the fixture's value brings it back, empty."""
    if make_url(database_url).get_backend_name() == "sqlite":
        path = anyio.Path(make_url(database_url).database or "")
        await path.mkdir()  # SQLite cannot open a folder: the database is not there

        async def restore() -> None:
            await path.rmdir()

        yield restore
        return
    await drop_database(database_url)

    async def create_again() -> None:
        name = make_url(database_url).database
        admin = _admin(make_url(database_url).set(database="postgres").render_as_string(False))
        try:
            async with admin.connect() as connection:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await admin.dispose()

    yield create_again


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers: it listens, and never accepts."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def silent_database_url(port: int) -> str:
    return f"postgresql+asyncpg://workbook:workbook@127.0.0.1:{port}/shop"


@asynccontextmanager
async def app_of(exercise: ModuleType) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    """The app running; a failure to start is the app's fault, said plainly."""
    async with running(exercise.app) as (client, state):
        yield client, state


class RedisCommands:
    """Counts the commands the app's Redis client sends; can make them fail or never end."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.original = redis.execute_command
        self.sent: list[str] = []
        self.failure: Exception | None = None
        self.hang = False

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.sent.append(str(args[0]).upper() if args else "?")
        if self.failure is not None:
            raise self.failure
        if self.hang:
            await anyio.Event().wait()
        await anyio.lowlevel.checkpoint()  # a real server's answer takes a trip round the loop
        return await self.original(*args, **kwargs)

    def __enter__(self) -> "RedisCommands":
        self.redis.execute_command = self
        return self

    def __exit__(self, *exc: object) -> None:
        del self.redis.execute_command


async def get(client: httpx.AsyncClient, path: str) -> httpx.Response:
    with anyio.fail_after(HANG_GUARD):
        return await client.get(path)


async def expect_answer(
    client: httpx.AsyncClient, path: str, status: int, body: Any, help: str
) -> None:
    try:
        response = await get(client, path)
    except TimeoutError:
        expect(False, f"GET {path} did not answer within {HANG_GUARD} s", help=help)
    expect_status(response, status, help=help)
    expect_json(response, body, help=help)


# -- both up ------------------------------------------------------------------------------


async def test_ready_when_both_answer(exercise):
    """/readyz answers 200 {"database": "ok", "redis": "ok"} when both answer"""
    async with app_of(exercise) as (client, _):
        await expect_answer(client, "/readyz", 200, READY, READ_BOTH)


async def test_readiness_sends_select_1_and_ping(exercise):
    """each /readyz runs SELECT 1 on the database and PING on Redis"""
    async with app_of(exercise) as (client, state):
        for _ in range(2):
            with count_statements() as statements, RedisCommands(state["redis"]) as redis:
                await expect_answer(client, "/readyz", 200, READY, READ_BOTH)
            expect(
                any(" ".join(sql.split()).upper() == "SELECT 1" for sql in statements.sql),
                f"expected /readyz to send SELECT 1, it sent:\n{statements.listing()}",
                help=READ_BOTH,
            )
            expect_equal("Redis commands of one /readyz", ["PING"], redis.sent, help=READ_BOTH)


@pytest.mark.stub_may_pass("the stub's /healthz is already right: it checks nothing")
async def test_health(exercise):
    """/healthz answers 200 {"status": "ok"} and checks nothing"""
    async with app_of(exercise) as (client, state):
        with count_statements() as statements, RedisCommands(state["redis"]) as redis:
            await expect_answer(client, "/healthz", 200, ALIVE, ALIVE_HELP)
        expect_equal("SQL statements of /healthz", [], statements.sql, help=ALIVE_HELP)
        expect_equal("Redis commands of /healthz", [], redis.sent, help=ALIVE_HELP)


# -- one of them down ---------------------------------------------------------------------


async def test_redis_refuses(exercise, unreachable_redis):
    """Redis refusing: /readyz 503 naming redis, /healthz still 200"""
    async with app_of(exercise) as (client, _):
        await expect_answer(client, "/readyz", 503, {"database": "ok", "redis": "down"}, NAME_IT)
        await expect_answer(client, "/healthz", 200, ALIVE, ALIVE_HELP)


async def test_database_dropped(exercise, dropped_database):
    """the database gone: /readyz 503 naming the database, /healthz still 200"""
    async with app_of(exercise) as (client, _):
        await expect_answer(client, "/readyz", 503, {"database": "down", "redis": "ok"}, NAME_IT)
        await expect_answer(client, "/healthz", 200, ALIVE, ALIVE_HELP)


async def test_both_down(exercise, dropped_database, unreachable_redis):
    """both gone: the app starts, /readyz 503 names both, /healthz 200"""
    try:
        manager = app_of(exercise)
        client, _ = await manager.__aenter__()
    except Exception as error:
        expect(False, f"the app did not start without its dependencies: {error}", help=STARTS)
    try:
        await expect_answer(client, "/readyz", 503, {"database": "down", "redis": "down"}, NAME_IT)
        await expect_answer(client, "/healthz", 200, ALIVE, ALIVE_HELP)
    finally:
        await manager.__aexit__(None, None, None)


async def test_database_comes_back(exercise, dropped_database):
    """readiness is checked on every request: the database back, /readyz 200 again"""
    async with app_of(exercise) as (client, _):
        await expect_answer(client, "/readyz", 503, {"database": "down", "redis": "ok"}, NAME_IT)
        await dropped_database()
        await expect_answer(client, "/readyz", 200, READY, EVERY_TIME)


@pytest.mark.parametrize(
    "failure",
    [RedisConnectionError("Connection refused"), RuntimeError("a bug in the client")],
    ids=["redis_error", "other_error"],
)
async def test_redis_goes_down_and_comes_back(exercise, failure):
    """Redis failing while the app runs: 503 naming redis, then 200 once it answers again"""
    async with app_of(exercise) as (client, state):
        await expect_answer(client, "/readyz", 200, READY, READ_BOTH)
        with RedisCommands(state["redis"]) as redis:
            redis.failure = failure
            await expect_answer(
                client, "/readyz", 503, {"database": "ok", "redis": "down"}, ANY_ERROR
            )
        await expect_answer(client, "/readyz", 200, READY, EVERY_TIME)


# -- never answering: bounded by CHECK_TIMEOUT ---------------------------------------------


async def test_redis_never_answers(exercise):
    """a Redis command that never returns: /readyz still answers 503 naming redis"""
    async with app_of(exercise) as (client, state):
        with RedisCommands(state["redis"]) as redis:
            redis.hang = True
            await expect_answer(
                client, "/readyz", 503, {"database": "ok", "redis": "down"}, BOUNDED
            )


async def test_silent_redis_server(exercise, monkeypatch):
    """a Redis server that accepts and never answers: 503 naming redis, not a hang"""
    with silent_server() as port:
        monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
        async with app_of(exercise) as (client, _):
            await expect_answer(
                client, "/readyz", 503, {"database": "ok", "redis": "down"}, BOUNDED
            )


async def test_silent_database_server(exercise, monkeypatch):
    """a PostgreSQL that accepts and never answers: 503 naming the database, not a hang"""
    with silent_server() as port:
        monkeypatch.setenv("DATABASE_URL", silent_database_url(port))
        async with app_of(exercise) as (client, _):
            await expect_answer(
                client, "/readyz", 503, {"database": "down", "redis": "ok"}, BOUNDED
            )


async def test_checks_read_check_timeout(exercise, monkeypatch):
    """the checks read CHECK_TIMEOUT when they run: at 0 s, a working Redis is not in time"""
    monkeypatch.setattr(exercise, "CHECK_TIMEOUT", 0)
    with silent_server() as port:
        # a database that never answers: cancelling a SQLite connect would leave its thread
        monkeypatch.setenv("DATABASE_URL", silent_database_url(port))
        async with app_of(exercise) as (client, state):
            with RedisCommands(state["redis"]):
                await expect_answer(
                    client, "/readyz", 503, {"database": "down", "redis": "down"}, READS_TIMEOUT
                )


# -- draining -----------------------------------------------------------------------------


async def test_draining(exercise):
    """draining: /readyz 503 {"status": "draining"} checking nothing, /healthz 200"""
    async with app_of(exercise) as (client, state):
        expect_equal('state["lifecycle"].draining at start', False, state["lifecycle"].draining)
        await expect_answer(client, "/readyz", 200, READY, READ_BOTH)
        state["lifecycle"].draining = True
        with count_statements() as statements, RedisCommands(state["redis"]) as redis:
            await expect_answer(client, "/readyz", 503, DRAINING, DRAIN)
            await expect_answer(client, "/healthz", 200, ALIVE, DRAIN)
        expect_equal("SQL statements while draining", [], statements.sql, help=DRAIN)
        expect_equal("Redis commands while draining", [], redis.sent, help=DRAIN)


async def test_shutdown_drains_first(exercise):
    """at shutdown the app is draining before it closes Redis: a probe then says 503"""
    seen: dict[str, Any] = {}
    async with app_of(exercise) as (_, state):
        redis = state["redis"]
        closing = redis.aclose

        async def aclose(*args: Any, **kwargs: Any) -> None:
            seen["draining"] = state["lifecycle"].draining

            async def serve(scope: dict[str, Any], receive: Any, send: Any) -> None:
                await exercise.app({**scope, "state": dict(state)}, receive, send)

            transport = httpx.ASGITransport(app=serve)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                seen["readyz"] = await get(client, "/readyz")
                seen["healthz"] = await get(client, "/healthz")
            await closing(*args, **kwargs)

        redis.aclose = aclose
    expect(
        "draining" in seen, "the lifespan never called aclose() on the Redis client", help=SHUTDOWN
    )
    expect_equal("draining when the Redis client is closed", True, seen["draining"], help=SHUTDOWN)
    expect_status(seen["readyz"], 503, help=SHUTDOWN)
    expect_json(seen["readyz"], DRAINING, help=SHUTDOWN)
    expect_status(seen["healthz"], 200, help=SHUTDOWN)
    expect_json(seen["healthz"], ALIVE, help=SHUTDOWN)


async def test_each_start_begins_ready(exercise):
    """a new start of the app is not draining because the last one stopped"""
    for _ in range(2):
        async with app_of(exercise) as (client, _):
            await expect_answer(client, "/readyz", 200, READY, PER_APP)
