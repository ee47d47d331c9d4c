"""Hidden suite for 10_redis_caching/03_single_flight: concurrent misses share one load.

The checks hold the SQL that loads a product at the database driver: a listener on every
engine sees the statement, counts it as a load, and waits (inside SQLAlchemy's greenlet)
until the check lets it through.  Twenty requests for a cold product are sent at once; the
first load is held until every request is waiting for something (AnyIO's
`wait_all_tasks_blocked`) and none is still talking to Redis (a real server's lookups are
network I/O, which counts as waiting too), or until a second load shows up, which needs no
more waiting.
No sleeps: a guard only stops an app whose requests never answer.
"""

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlalchemy.util import await_

from workbook.services import count_statements
from workbook.testing import (
    HANG_GUARD,
    Failure,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    running,
)

# The contract says a warning is an error in the checks (a deprecated call fails them).
pytestmark = pytest.mark.filterwarnings("error")

CROWD = 20
LAMP, CHAIR, UNKNOWN = 41, 42, 43
PRODUCTS = {
    LAMP: {"id": LAMP, "name": "Desk lamp", "price_cents": 3900},
    CHAIR: {"id": CHAIR, "name": "Office chair", "price_cents": 12900},
}
NOT_FOUND = {"detail": "Product not found"}
PRODUCT_TTL = 300

ONE_LOAD = (
    "Do concurrent misses for one product share one load? While a load runs, a request "
    "that misses should wait for that load (an asyncio.Task or Future per product id, in "
    "the lifespan state) instead of starting its own."
)
SAME_ANSWER = "Does every request that waited for the load answer with what the load found?"
FAILED_ONCE = (
    "When the shared load raises, does every request that waited for it fail with it, "
    "instead of trying the load again one after another?"
)
NEVER_ANSWERED = (
    "Does every waiter learn how the load ended, even when it raised? A waiter that awaits "
    "something the failed load never completes waits forever."
)
FORGOTTEN = (
    "Is a finished load forgotten? Remove the product's flight once its load has ended, "
    "whether it succeeded or failed, so that the next miss loads again."
)
PER_KEY = (
    "Do loads of different products wait for each other? Keep one flight per product id, "
    "not one lock for the whole catalogue."
)
CACHE_ASIDE = "Does a hit still answer from Redis, and does a load still store what it found?"


class DatabaseDown(Exception):
    """What the held load raises when a check makes it fail."""


def mentions(parameters: Any, value: int) -> bool:
    values = parameters.values() if isinstance(parameters, Mapping) else parameters
    return value in tuple(values or ())


class Gate:
    """Holds every statement that names one product id until released; counts them."""

    def __init__(self, product_id: int, *, fail: bool = False) -> None:
        self.product_id = product_id
        self.fail = fail
        self.loads = 0
        self.entered = anyio.Event()
        self.released = anyio.Event()

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not mentions(parameters, self.product_id):
            return
        self.loads += 1
        self.entered.set()
        if self.loads > 1:
            self.released.set()  # a second load already answers the question: let all through
        await_(self.released.wait())  # we are in SQLAlchemy's greenlet: this suspends the load
        if self.fail:
            raise DatabaseDown("the database went away")

    def __enter__(self) -> "Gate":
        event.listen(Engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_: Any) -> None:
        self.released.set()
        event.remove(Engine, "before_cursor_execute", self)


@pytest.fixture
async def shop(exercise, database_url, redis_url) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The app, started, with the lamp and the chair in its database."""
    async with running(exercise.app) as (client, state):
        async with state["sessions"]() as session:
            session.add_all(exercise.ProductRow(**product) for product in PRODUCTS.values())
            await session.commit()
        yield client, state


def talking_to_redis(redis: Any) -> bool:
    """Whether a command of the app is on its way to Redis or back (a real server's I/O)."""
    return bool(redis.connection_pool._in_use_connections)


async def until_all_wait(redis: Any) -> None:
    """Until every task waits for something other than Redis: none is still looking up."""
    await anyio.wait_all_tasks_blocked()
    while talking_to_redis(redis):
        await anyio.lowlevel.checkpoint()
        await anyio.wait_all_tasks_blocked()


async def crowd(
    client: httpx.AsyncClient, redis: Any, gate: Gate, path: str, *, help: str = ONE_LOAD
) -> list[httpx.Response | Exception]:
    """CROWD concurrent GETs of `path`; the gate's load is held until all of them wait.

    Each answer is the response, or the exception the app raised for that request.
    """
    responses: list[httpx.Response | Exception] = []

    async def get() -> None:
        try:
            responses.append(await client.get(path))
        except Exception as error:  # what the app raised, where a server would log it
            responses.append(error)
        if len(responses) == CROWD:
            gate.entered.set()  # all answered without a load: nothing to hold

    try:
        with anyio.fail_after(HANG_GUARD):
            async with anyio.create_task_group() as group:
                for _ in range(CROWD):
                    group.start_soon(get)
                await gate.entered.wait()
                await until_all_wait(redis)
                gate.released.set()
    except TimeoutError:
        raise Failure(
            f"expected all {CROWD} requests to be answered, not {len(responses)}",
            help=NEVER_ANSWERED if gate.fail else help,
        ) from None
    return responses


def expect_loads(
    gate: Gate, statements: Any, *, many: str = ONE_LOAD, none: str = FORGOTTEN
) -> None:
    """One load: `many` is the question to ask when there were more, `none` when none."""
    if gate.loads != 1:
        raise Failure(
            f"expected {CROWD} concurrent misses to cause 1 load, not {gate.loads}",
            help=many if gate.loads else none,
            statements=statements.listing(),
        )


def expect_all(responses: list[httpx.Response | Exception], status: int, body: Any) -> None:
    for response in responses:
        if isinstance(response, Exception):
            raise Failure(
                f"expected status {status}, not {type(response).__name__} raised by the app",
                help=SAME_ANSWER,
            )
        expect_status(response, status, help=SAME_ANSWER)
        expect_json(response, body, help=SAME_ANSWER)


async def redis_ms(redis: Any) -> int:
    """The Redis server's own clock, in milliseconds."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def expect_expiry(redis: Any, key: str, since: int, *, help: str) -> None:
    """The entry at `key`, stored after `since` (Redis time), was given PRODUCT_TTL seconds.

    What is left of its TTL, plus the time passed since `since`, brackets the TTL it was
    given: exact whatever the machine's speed, and no waiting.
    """
    left = await redis.pttl(key)
    passed = await redis_ms(redis) - since
    expect(left != -2, f"expected an entry at {key}, found none", help=help)
    expect(left != -1, f"expected {key} to expire after {PRODUCT_TTL} s, not never", help=help)
    expect(
        left <= PRODUCT_TTL * 1000 <= left + passed + 1,
        f"expected {key} to expire {PRODUCT_TTL} s after it was stored, "
        f"not about {round((left + passed / 2) / 1000)} s",
        help=help,
    )


async def cached(state: Any, product_id: int) -> str | None:
    return await state["redis"].get(f"shop:v1:product:{product_id}")


async def test_twenty_misses_share_one_load(shop):
    """twenty concurrent misses for one product cause one load, and all twenty get it"""
    client, state = shop
    with count_statements() as statements, Gate(LAMP) as gate:
        responses = await crowd(client, state["redis"], gate, f"/products/{LAMP}")
    expect_loads(gate, statements)
    expect_all(responses, 200, PRODUCTS[LAMP])


async def test_the_shared_load_fills_the_cache(shop):
    """the shared load caches the product with its TTL, and the next reads send no SQL"""
    client, state = shop
    since = await redis_ms(state["redis"])
    with count_statements() as statements, Gate(LAMP) as gate:
        await crowd(client, state["redis"], gate, f"/products/{LAMP}")
    expect_loads(gate, statements)
    entry = await cached(state, LAMP)
    expect(entry is not None, "expected the product to be cached after the load", help=CACHE_ASIDE)
    expect_equal("cached product", PRODUCTS[LAMP], json.loads(entry), help=CACHE_ASIDE)
    await expect_expiry(state["redis"], f"shop:v1:product:{LAMP}", since, help=CACHE_ASIDE)
    with count_statements() as statements, Gate(LAMP) as gate:
        responses = await crowd(client, state["redis"], gate, f"/products/{LAMP}")
    expect_equal("statements sent by twenty hits", 0, statements.count, help=CACHE_ASIDE)
    expect_all(responses, 200, PRODUCTS[LAMP])


async def test_unknown_product_is_one_load_too(shop):
    """twenty concurrent misses for an unknown product cause one load and twenty 404s"""
    client, state = shop
    with count_statements() as statements, Gate(UNKNOWN) as gate:
        responses = await crowd(client, state["redis"], gate, f"/products/{UNKNOWN}")
    expect_loads(gate, statements)
    expect_all(responses, 404, NOT_FOUND)
    expect_equal("cache entry of an unknown product", None, await cached(state, UNKNOWN))


async def test_a_failed_load_fails_every_waiter_once(shop):
    """when the shared load fails, all twenty requests fail with its error, after one load"""
    client, state = shop
    with count_statements() as statements, Gate(LAMP, fail=True) as gate:
        responses = await crowd(client, state["redis"], gate, f"/products/{LAMP}")
    expect_loads(gate, statements, many=FAILED_ONCE)
    for response in responses:
        raised = "no error" if isinstance(response, httpx.Response) else type(response).__name__
        expect_equal("error raised by each request", "DatabaseDown", raised, help=FAILED_ONCE)
    expect_equal("cache entry after a failed load", None, await cached(state, LAMP))


async def test_after_a_failure_the_next_misses_load_again(shop):
    """after a failed load, the next misses load again: one load, and twenty 200s"""
    client, state = shop
    with Gate(LAMP, fail=True) as gate:
        await crowd(client, state["redis"], gate, f"/products/{LAMP}")
    with count_statements() as statements, Gate(LAMP) as gate:
        responses = await crowd(client, state["redis"], gate, f"/products/{LAMP}")
    expect_loads(gate, statements)
    expect_all(responses, 200, PRODUCTS[LAMP])


async def test_a_finished_load_is_forgotten(shop, exercise):
    """once a load has ended, the next misses start a new one and see the new row"""
    client, state = shop
    with Gate(LAMP) as gate:
        await crowd(client, state["redis"], gate, f"/products/{LAMP}")
    async with state["sessions"]() as session:
        row = exercise.ProductRow
        await session.execute(update(row).where(row.id == LAMP).values(name="Floor lamp"))
        await session.commit()
    await state["redis"].delete(f"shop:v1:product:{LAMP}")
    with count_statements() as statements, Gate(LAMP) as gate:
        responses = await crowd(client, state["redis"], gate, f"/products/{LAMP}")
    expect_loads(gate, statements)
    expect_all(responses, 200, PRODUCTS[LAMP] | {"name": "Floor lamp"})


async def test_other_products_do_not_wait(shop):
    """while the lamp's load is held, twenty reads of the chair are answered, after one load"""
    client, state = shop
    lamp_responses: list[httpx.Response | Exception] = []
    with Gate(LAMP) as lamp, count_statements() as statements, Gate(CHAIR) as chair:
        try:
            with anyio.fail_after(HANG_GUARD):
                async with anyio.create_task_group() as group:

                    async def get_lamp() -> None:
                        lamp_responses.append(await client.get(f"/products/{LAMP}"))

                    group.start_soon(get_lamp)
                    await lamp.entered.wait()
                    chairs = await crowd(
                        client, state["redis"], chair, f"/products/{CHAIR}", help=PER_KEY
                    )
                    expect(lamp_responses == [], "expected the lamp's load to be still held")
                    lamp.released.set()
        except TimeoutError:
            raise Failure(
                "expected the chair's reads to be answered while the lamp's load is held",
                help=PER_KEY,
            ) from None
    expect_loads(chair, statements)
    expect_all(chairs, 200, PRODUCTS[CHAIR])
    expect_all(lamp_responses, 200, PRODUCTS[LAMP])


@pytest.mark.stub_may_pass("the lifespan is given")
async def test_engine_is_disposed(exercise, database_url, redis_url):
    """the app disposes of its engine when it shuts down, leaving no connection open"""
    async with running(exercise.app) as (client, state):
        expect_status(await client.get(f"/products/{UNKNOWN}"), 404)
        engine = state["engine"]
    expect_equal("connections left in the pool after shutdown", 0, engine.pool.checkedin())
