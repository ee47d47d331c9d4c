"""Hidden suite for 10_redis_caching/05_redis_down: Redis is a speed-up, never a dependency.

Every check starts the app on a fresh database and an empty Redis (the `database_url` and
`redis_url` fixtures).  Redis goes down in three ways, the same with the embedded fakeredis
and a real server:
- `REDIS_URL` names `services.UNREACHABLE_REDIS_URL`, which refuses every connection at once;
- `REDIS_URL` names a server this suite runs that accepts connections and never answers;
- `outage(client)` makes the app's own client refuse to connect until the block ends (its
  connection class's `connect` raises redis-py's `ConnectionError`), then lets it work again.
Records on the logger `shop.cache` are counted with pytest's `caplog`.  No sleeps: the guard
around the silent server only stops an app that waits for Redis far longer than it should.
"""

import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from workbook.services import UNREACHABLE_REDIS_URL, count_statements
from workbook.testing import (
    Failure,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    running,
)

# The contract says a warning is an error in the checks (a deprecated call fails them).
pytestmark = pytest.mark.filterwarnings("error")

LOGGER = "shop.cache"
REDIS_TIMEOUT = 0.25
PRODUCT_TTL = 300
SLOW_GUARD = 3.0  # seconds: a read held up by a silent Redis for longer than this never ends well
LAMP = {"id": 41, "name": "Desk lamp", "price_cents": 3900}
CHAIR = {"id": 42, "name": "Office chair", "price_cents": 12900}
NOT_FOUND = {"detail": "Product not found"}

NOT_CAUGHT = (
    "Is every Redis command wrapped so that a redis.exceptions.RedisError (refused, timed "
    "out, ...) counts as a miss, and the answer comes from the database?"
)
STARTS = (
    "Does the lifespan talk to Redis (a ping, say) and fail when it cannot? The client "
    "connects at its first command: starting needs no Redis at all."
)
WRITE = (
    "Does the write commit before it touches Redis, and does a failed delete of the entry "
    "leave the answer as it is?"
)
TIMEOUTS = (
    "Does redis_from_env give Redis.from_url socket_connect_timeout=REDIS_TIMEOUT and "
    "socket_timeout=REDIS_TIMEOUT? Without them a silent Redis holds a request 5 s per command."
)
TIMEOUT_CAUGHT = (
    "A Redis that does not answer raises redis.exceptions.TimeoutError, not ConnectionError: "
    "does the app catch RedisError, the class both come from?"
)
ONCE = (
    "Is the outage logged once, when Redis stops answering, rather than once per failed "
    "command? Remember in the app (an object in the lifespan state) whether Redis is "
    "thought to be available, and log only when that changes."
)
LOGGER_HELP = 'Is the warning logged on logging.getLogger("shop.cache"), at level WARNING?'
PER_APP = (
    "Is the 'Redis is down' flag kept per app, in its lifespan state? A module-level flag "
    "stays set for the next app that starts, which then never logs its own outage."
)
RECOVERY = (
    "Once a Redis command succeeds again, does the app use the cache again and count Redis "
    "as available, so that the next outage is logged too?"
)
CACHING = (
    "With Redis up, does a read still answer from the entry (no SQL) and a miss store the "
    "product for PRODUCT_TTL seconds?"
)
ONLY_REDIS = (
    "Does the app catch only Redis's own errors? An exception of another kind is a bug, not "
    "an outage: except RedisError, not except Exception."
)


class Bug(Exception):
    """Not a Redis error: what a programming mistake raises."""


@pytest.fixture(autouse=True)
def services(database_url: str, redis_url: str | None) -> None:
    """Each check gets an empty database and an empty Redis, named by the environment."""


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's REDIS_URL names a Redis that refuses every connection at once."""
    monkeypatch.setenv("REDIS_URL", UNREACHABLE_REDIS_URL)


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    """The records logged on shop.cache so far, all levels."""
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return lambda: [record for record in caplog.records if record.name == LOGGER]


def warnings_in(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [record for record in records if record.levelno >= logging.WARNING]


@asynccontextmanager
async def shop(
    exercise: ModuleType, *, seed: bool = True, raise_app_exceptions: bool = False
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    """The app running on a database holding the lamp and the chair, and its state.

    What the app raises becomes the 500 a client gets, unless `raise_app_exceptions`.
    """
    async with running(exercise.app, raise_app_exceptions=raise_app_exceptions) as (
        client,
        state,
    ):
        if seed:
            async with state["sessions"].begin() as session:
                session.add_all(exercise.ProductRow(**product) for product in (LAMP, CHAIR))
        yield client, state


@contextmanager
def outage(redis: Any, error: Exception | None = None) -> Iterator[None]:
    """Every new command of `redis` fails to connect while the block runs, then works again."""
    cls = redis.connection_pool.connection_class
    own = cls.__dict__.get("connect")
    failure = error or RedisConnectionError("Error 111 connecting to Redis. Connection refused.")

    async def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise failure

    cls.connect = refuse
    try:
        yield
    finally:
        if own is None:
            del cls.connect
        else:
            cls.connect = own


@contextmanager
def silent_redis() -> Iterator[str]:
    """A server that never answers, its URL: it listens, and never accepts.

    The kernel completes the connection in the listening socket's backlog, so the client
    connects and sends its command, and no reply ever comes.
    """
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


async def redis_ms(redis: Any) -> int:
    """The Redis server's own clock, in milliseconds."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def read(client: httpx.AsyncClient, product: dict[str, Any], help: str) -> None:
    """One read of `product` answers 200 and its JSON."""
    response = await client.get(f"/products/{product['id']}")
    expect_status(response, 200, help=help)
    expect_json(response, product, help=help)


# -- the client ---------------------------------------------------------------------------


async def test_client_has_timeouts(exercise, unreachable):
    """the Redis client gives up after REDIS_TIMEOUT (0.25 s), to connect and to answer"""
    async with running(exercise.app) as (_, state):
        options = state["redis"].connection_pool.connection_kwargs
    expect_equal(
        "socket_connect_timeout",
        REDIS_TIMEOUT,
        options.get("socket_connect_timeout"),
        help=TIMEOUTS,
    )
    expect_equal("socket_timeout", REDIS_TIMEOUT, options.get("socket_timeout"), help=TIMEOUTS)


# -- Redis refuses: reads and writes from the database, never a 500 ----------------------


async def test_reads_without_redis(exercise, unreachable, records):
    """with Redis refusing, the app starts and every read is answered from the database"""
    try:
        async with shop(exercise) as (client, _):
            with count_statements() as statements:
                for product in (LAMP, CHAIR, LAMP):
                    await read(client, product, help=NOT_CAUGHT)
            missing = await client.get("/products/7")
    except Failure:
        raise
    except Exception as error:
        raise Failure(
            f"expected the app to start without Redis, not {error!r}", help=STARTS
        ) from None
    expect_equal("statements sent by three reads", 3, statements.count, help=NOT_CAUGHT)
    expect_status(missing, 404, help=NOT_CAUGHT)
    expect_json(missing, NOT_FOUND, help=NOT_CAUGHT)


async def test_write_without_redis(exercise, unreachable, records):
    """with Redis refusing, a write commits and answers 200, and the next read sees it"""
    change = {"name": "Floor lamp", "price_cents": 4900}
    async with shop(exercise) as (client, _):
        written = await client.put("/products/41", json=change)
        expect_status(written, 200, help=WRITE)
        expect_json(written, {"id": 41} | change, help=WRITE)
        await read(client, {"id": 41} | change, help=WRITE)


async def test_outage_is_logged_once(exercise, unreachable, records):
    """an outage logs one WARNING on shop.cache, however many requests meet it"""
    async with shop(exercise) as (client, _):
        for product in (LAMP, CHAIR, LAMP):
            await read(client, product, help=NOT_CAUGHT)
        expect_status(await client.put("/products/42", json=CHAIR), 200, help=WRITE)
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(read, client, LAMP, NOT_CAUGHT)
    logged = warnings_in(records())
    expect_equal("warnings on shop.cache during one outage", 1, len(logged), help=ONCE)
    expect_equal("level of the record", "WARNING", logged[0].levelname, help=LOGGER_HELP)


async def test_each_start_logs_its_outage(exercise, unreachable, records):
    """each start of the app logs its own outage: two starts, two warnings"""
    for start in (1, 2):
        async with shop(exercise, seed=start == 1) as (client, _):
            await read(client, LAMP, help=NOT_CAUGHT)
            await read(client, LAMP, help=NOT_CAUGHT)
        seen = len(warnings_in(records()))
        expect_equal(
            f"warnings on shop.cache after start {start}",
            start,
            seen,
            help=PER_APP if seen < start else ONCE,
        )


async def test_silent_redis_is_down_too(exercise, monkeypatch, records):
    """a Redis that never answers holds a read up only for the timeout, then it is served"""
    with silent_redis() as url:
        monkeypatch.setenv("REDIS_URL", url)
        async with shop(exercise) as (client, _):
            try:
                with anyio.fail_after(SLOW_GUARD):
                    await read(client, LAMP, help=TIMEOUT_CAUGHT)
            except TimeoutError:
                raise Failure(
                    f"expected the read to be answered within {SLOW_GUARD:g} s, not to keep "
                    "waiting for Redis",
                    help=TIMEOUTS,
                ) from None
    expect_equal("warnings on shop.cache", 1, len(warnings_in(records())), help=ONCE)


@pytest.mark.stub_may_pass("the stub lets every error through")
async def test_other_errors_are_not_an_outage(exercise, records):
    """an error that is not Redis's is a bug: it reaches the server as it was raised"""
    async with shop(exercise, raise_app_exceptions=True) as (client, state):
        with outage(state["redis"], Bug("a bug, not an outage")), pytest.raises(Bug):
            await client.get("/products/41")
    expect_equal("warnings on shop.cache", 0, len(warnings_in(records())), help=ONLY_REDIS)


# -- Redis up, then down, then up again --------------------------------------------------


@pytest.mark.stub_may_pass("the stub caches as before")
async def test_caches_while_redis_is_up(exercise, records):
    """with Redis up, a second read sends no SQL, the entry lives PRODUCT_TTL, nothing is logged"""
    async with shop(exercise) as (client, state):
        since = await redis_ms(state["redis"])
        await read(client, LAMP, help=CACHING)
        with count_statements() as statements:
            await read(client, LAMP, help=CACHING)
        left = await state["redis"].pttl("shop:v1:product:41")
        passed = await redis_ms(state["redis"]) - since
    expect_equal("statements sent by a hit", 0, statements.count, help=CACHING)
    expect(
        left <= PRODUCT_TTL * 1000 <= left + passed + 1,
        f"expected the entry to expire {PRODUCT_TTL} s after it was stored, not {left} ms",
        help=CACHING,
    )
    expect_equal("warnings on shop.cache while Redis works", 0, len(warnings_in(records())))


@pytest.mark.stub_may_pass("the stub caches as before")
async def test_write_invalidates_while_redis_is_up(exercise, records):
    """with Redis up, a write deletes the product's entry after the commit"""
    change = {"name": "Floor lamp", "price_cents": 4900}
    async with shop(exercise) as (client, state):
        await read(client, LAMP, help=CACHING)
        expect_status(await client.put("/products/41", json=change), 200)
        entry = await state["redis"].get("shop:v1:product:41")
        await read(client, {"id": 41} | change, help=CACHING)
    expect_equal("entry after the write", None, entry, help=CACHING)


async def test_cache_comes_back(exercise, records):
    """after an outage, reads are cached again, and the next outage is logged again"""
    async with shop(exercise) as (client, state):
        await read(client, LAMP, help=CACHING)
        with outage(state["redis"]), count_statements() as during:
            await read(client, LAMP, help=NOT_CAUGHT)
            await read(client, LAMP, help=NOT_CAUGHT)
        expect_equal(
            "statements sent by two reads during the outage", 2, during.count, help=NOT_CAUGHT
        )
        with count_statements() as after:
            await read(client, LAMP, help=RECOVERY)
            await read(client, CHAIR, help=RECOVERY)
            await read(client, CHAIR, help=RECOVERY)
        expect_equal(
            "statements sent by three reads after the outage", 1, after.count, help=RECOVERY
        )
        with outage(state["redis"]):
            await read(client, CHAIR, help=NOT_CAUGHT)
    expect_equal(
        "warnings on shop.cache over two outages", 2, len(warnings_in(records())), help=RECOVERY
    )


@pytest.mark.stub_may_pass("the lifespan is given")
async def test_engine_is_disposed(exercise, records):
    """the app disposes of its engine when it shuts down, leaving no connection open"""
    async with shop(exercise) as (client, state):
        await read(client, LAMP, help=CACHING)
        engine = state["engine"]
    expect_equal("connections left in the pool after shutdown", 0, engine.pool.checkedin())
