"""Hidden suite for 10_redis_caching/01_cache_aside: a read is served from Redis when it can be.

Every check starts the app on a fresh database and an empty Redis (the `database_url` and
`redis_url` fixtures), adds rows through the app's own sessionmaker and reads Redis through
the app's own client, both from the lifespan state. A hit is proved by counting the SQL
statements every engine of the process sends (`count_statements`), and by answers that only
the cache can give; a TTL is read back from Redis, never waited for.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import httpx
import pytest

from workbook.services import Statements, count_statements
from workbook.testing import expect, expect_equal, expect_json, expect_status, running

# The contract says a warning is an error in the checks (a deprecated call fails them).
pytestmark = pytest.mark.filterwarnings("error")

PRODUCT_TTL_MS = 300_000
LAMP = {"id": 1, "name": "Desk lamp", "price_cents": 1999}
SHELF = {"id": 42, "name": "Oak shelf", "price_cents": 0}
STOOL = {"id": 7, "name": "Stool", "price_cents": 2500}
NOT_FOUND = {"detail": "Product not found"}

NO_LOOKUP = (
    "Does read_product look for the product's key in Redis (redis.get) before it asks the "
    "database, and answer from the entry when there is one?"
)
NOT_STORED = (
    "Does read_product store the product after loading it: redis.set(key, the product's "
    'JSON, ex=PRODUCT_TTL)? The key is f"shop:v1:product:{product_id}".'
)
NO_TTL = (
    "Is the entry stored with an expiry? redis.set(key, value, ex=PRODUCT_TTL) gives it one "
    "in seconds; px= would count in milliseconds."
)
REFRESHED = (
    "Does a hit store the entry again, or call expire on it? A hit only reads: an entry "
    "refreshed on every read of a popular product never expires, and never shows a change."
)
NEGATIVE = (
    "Is something stored for a product that does not exist? Only a product that was found "
    "is cached: check for the missing row before calling redis.set."
)


@pytest.fixture(autouse=True)
def services(database_url: str, redis_url: str | None) -> None:
    """Each check gets an empty database and an empty Redis, named by the environment."""


@asynccontextmanager
async def shop(
    exercise: ModuleType, *products: dict[str, Any]
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    """The app running on a fresh database holding these products, and its lifespan state."""
    async with running(exercise.app) as (client, state):
        async with state["sessions"].begin() as session:
            session.add_all(exercise.ProductRow(**product) for product in products)
        yield client, state


async def rename(exercise: ModuleType, state: dict[str, Any], product_id: int, name: str) -> None:
    """Change a row behind the cache's back, as another service would."""
    async with state["sessions"].begin() as session:
        row = await session.get(exercise.ProductRow, product_id)
        row.name = name


def expect_no_sql(statements: Statements, *, help: str | None = None) -> None:
    """A hit: no SQL statement was sent."""
    expect(
        statements.count == 0,
        f"expected no SQL for a hit, not {statements.count} statement(s):\n" + statements.listing(),
        help=help,
    )


async def redis_ms(redis: Any) -> int:
    """The Redis server's own clock, in milliseconds."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def expect_expiry(
    redis: Any, key: str, ttl_ms: int, since: int, *, help: str | None = None
) -> None:
    """The entry at `key`, stored after `since` (Redis time), was given a TTL of `ttl_ms`.

    What is left of its TTL, plus the time that has passed since `since`, brackets the TTL
    it was given: exact whatever the machine's speed, and no waiting.
    """
    left = await redis.pttl(key)
    passed = await redis_ms(redis) - since
    expect(left != -2, f"expected an entry at {key}, found none", help=help)
    expect(left != -1, f"expected {key} to expire after {ttl_ms // 1000} s, not never", help=help)
    expect(
        left <= ttl_ms <= left + passed + 1,
        f"expected {key} to expire {ttl_ms // 1000} s after it was stored, "
        f"not about {round((left + passed / 2) / 1000)} s",
        help=help,
    )


# -- a miss: loaded from SQL, then stored --------------------------------------------------


@pytest.mark.stub_may_pass("the stub already reads every product from the database")
@pytest.mark.parametrize("product", [LAMP, SHELF], ids=["lamp", "free-shelf"])
async def test_miss_answers_the_row(exercise, product):
    """a product that is not cached answers 200 with its row"""
    async with shop(exercise, LAMP, SHELF) as (client, _):
        response = await client.get(f"/products/{product['id']}")
    expect_status(response, 200)
    expect_json(response, product)


@pytest.mark.parametrize(
    ("path", "key", "product"),
    [
        ("/products/1", "shop:v1:product:1", LAMP),
        ("/products/42", "shop:v1:product:42", SHELF),
        ("/products/007", "shop:v1:product:7", STOOL),
    ],
    ids=["1", "42", "007"],
)
async def test_miss_stores_the_product(exercise, path, key, product):
    """a miss stores the product's JSON under shop:v1:product:{id}"""
    async with shop(exercise, LAMP, SHELF, STOOL) as (client, state):
        expect_status(await client.get(path), 200)
        stored = await state["redis"].get(key)
    expect(stored is not None, f"expected the product stored under {key}", help=NOT_STORED)
    expect_equal(f"JSON at {key}", product, json.loads(stored), help=NOT_STORED)


async def test_entry_lives_product_ttl(exercise):
    """a miss stores the entry with a TTL of PRODUCT_TTL (300) seconds"""
    async with shop(exercise, LAMP) as (client, state):
        since = await redis_ms(state["redis"])
        expect_status(await client.get("/products/1"), 200)
        await expect_expiry(state["redis"], "shop:v1:product:1", PRODUCT_TTL_MS, since, help=NO_TTL)


# -- a hit: no SQL, the entry as it is -----------------------------------------------------


async def test_hit_sends_no_sql(exercise):
    """a second read of a product answers the same body without sending any SQL"""
    async with shop(exercise, LAMP) as (client, _):
        expect_status(await client.get("/products/1"), 200)
        with count_statements() as statements:
            response = await client.get("/products/1")
    expect_status(response, 200)
    expect_json(response, LAMP)
    expect_no_sql(statements, help=NO_LOOKUP)


async def test_hit_answers_the_entry(exercise):
    """a cached product is answered from its entry, even after its row has changed"""
    async with shop(exercise, LAMP) as (client, state):
        expect_status(await client.get("/products/1"), 200)
        await rename(exercise, state, 1, "Renamed behind the cache")
        response = await client.get("/products/1")
    expect_status(response, 200)
    expect_json(response, LAMP, help=NO_LOOKUP)


async def test_hit_needs_no_row(exercise):
    """an entry found in Redis is answered, with no SQL, even when no row has that id"""
    entry = {"id": 7, "name": "Only in the cache", "price_cents": 5}
    async with shop(exercise, LAMP) as (client, state):
        await state["redis"].set("shop:v1:product:7", json.dumps(entry), ex=100)
        with count_statements() as statements:
            response = await client.get("/products/7")
    expect_status(response, 200, help=NO_LOOKUP)
    expect_json(response, entry, help=NO_LOOKUP)
    expect_no_sql(statements, help=NO_LOOKUP)


async def test_hit_keeps_the_ttl(exercise):
    """a hit answers the entry and leaves its TTL as it was: reading does not extend it"""
    entry = {**LAMP, "name": "Desk lamp, as cached"}
    async with shop(exercise, LAMP) as (client, state):
        since = await redis_ms(state["redis"])
        await state["redis"].set("shop:v1:product:1", json.dumps(entry), ex=100)
        for _ in range(3):
            response = await client.get("/products/1")
            expect_status(response, 200)
            expect_json(response, entry, help=NO_LOOKUP)
        await expect_expiry(state["redis"], "shop:v1:product:1", 100_000, since, help=REFRESHED)


# -- an unknown id: 404, and nothing cached -------------------------------------------------


@pytest.mark.stub_may_pass("the stub already answers 404 for an unknown id")
@pytest.mark.parametrize("product_id", [5, 0, -1], ids=["5", "0", "negative"])
async def test_unknown_product_is_404(exercise, product_id):
    """an unknown product answers 404 {"detail": "Product not found"}"""
    async with shop(exercise, LAMP) as (client, _):
        response = await client.get(f"/products/{product_id}")
    expect_status(response, 404)
    expect_json(response, NOT_FOUND)


@pytest.mark.stub_may_pass("the stub caches nothing at all")
async def test_unknown_product_is_not_cached(exercise):
    """an unknown product writes nothing to Redis, so a row added later is found"""
    async with shop(exercise, LAMP) as (client, state):
        expect_status(await client.get("/products/7"), 404)
        keys = await state["redis"].keys("*")
        expect_equal("keys in Redis after a 404", [], keys, help=NEGATIVE)
        async with state["sessions"].begin() as session:
            session.add(exercise.ProductRow(**STOOL))
        response = await client.get("/products/7")
    expect_status(response, 200, help=NEGATIVE)
    expect_json(response, STOOL, help=NEGATIVE)


# -- the given lifespan --------------------------------------------------------------------


@pytest.mark.stub_may_pass("the lifespan is given")
async def test_engine_is_disposed(exercise):
    """the app disposes of its engine when it shuts down, leaving no connection open"""
    async with shop(exercise, LAMP) as (client, state):
        expect_status(await client.get("/products/1"), 200)
        engine = state["engine"]
    expect_equal("connections left in the pool after shutdown", 0, engine.pool.checkedin())
