"""Hidden suite for 10_redis_caching/02_invalidation: a write invalidates what it made stale.

Every check starts the app on a fresh database and an empty Redis (the `database_url` and
`redis_url` fixtures), adds rows through the app's own sessionmaker and reads Redis through
the app's own client, both from the lifespan state. Hits are proved by counting SQL
statements (`count_statements`); TTLs are read back from Redis, never waited for.

A read "while the write commits" is sent from a listener on SQLAlchemy's `commit` event,
which fires just before the database commits: the listener runs inside the app's own
`await session.commit()`, and hands the read to the event loop with `sqlalchemy.util.await_`
(the bridge SQLAlchemy's asyncio layer itself uses), so the read is served in full, from
another connection that still sees the old row, before the commit goes on.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.util import await_

from workbook.services import Statements, count_statements
from workbook.testing import expect, expect_equal, expect_json, expect_status, running

# The contract says a warning is an error in the checks (a deprecated call fails them).
pytestmark = pytest.mark.filterwarnings("error")

PRODUCT_TTL_MS = 300_000
LIST_TTL_MS = 60_000
VERSION_KEY = "shop:v1:products:version"
LAMP = {"id": 1, "name": "Desk lamp", "price_cents": 1999}
SHELF = {"id": 2, "name": "Oak shelf", "price_cents": 0}
STOOL = {"id": 3, "name": "Stool", "price_cents": 2500}
CATALOGUE = (STOOL, LAMP, SHELF)  # added out of order: the list sorts by id
CHANGE = {"name": "Brass lamp", "price_cents": 2499}
NEW_LAMP = {"id": 1, **CHANGE}
NOT_FOUND = {"detail": "Product not found"}
AFTER = {  # what reads must show after each write to product 1
    "PUT": {"item": NEW_LAMP, "list": [NEW_LAMP, SHELF, STOOL]},
    "DELETE": {"item": None, "list": [SHELF, STOOL]},
}

ENTRY_LEFT = (
    "Does the write delete the product's key (redis.delete) after its commit? Its old entry "
    "is still in Redis, so reads keep serving it until its TTL runs out."
)
ENTRY_REWRITTEN = (
    "Does the write store the new product in Redis? The contract asks it to delete the key "
    "and leave the next read to cache the product again."
)
ONLY_ITS_KEY = "Does the write delete only its own product's key, not every product's?"
VERSION_HELP = (
    "Does each successful write call redis.incr(LIST_VERSION_KEY) once, after its commit? "
    "INCR starts from 0 when the key does not exist, and sets no TTL."
)
LIST_KEY_HELP = (
    'Is the list cached under f"shop:v1:products:{version}:{limit}", where version is what '
    "LIST_VERSION_KEY holds, or 0 while it does not exist?"
)
STALE_LIST = (
    "A cached list still shows the product as it was before the write. Does every list key "
    "contain the version, and does each write increment the version after its commit?"
)
SEARCHED = (
    "Was the old list entry deleted? Writes bump the version and leave the old entries to "
    "their TTL: no KEYS or SCAN over the lists."
)
TOO_EARLY = (
    "A read that arrived while the write was committing saw the old row, found no entry "
    "(or a new version) and cached the old data again. Do you delete the key and bump the "
    "version only after await session.commit() has returned?"
)
NONE = (
    "Does the write invalidate anything? Once its commit has returned, it deletes the "
    "product's key and increments LIST_VERSION_KEY."
)
NOTHING_FOR_404 = (
    "A write to an id with no row changes nothing: does it delete a key or bump the version "
    "before it has found the row?"
)


@pytest.fixture(autouse=True)
def services(database_url: str, redis_url: str | None) -> None:
    """Each check gets an empty database and an empty Redis, named by the environment."""


@asynccontextmanager
async def shop(exercise: ModuleType) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    """The app running on a fresh database holding the catalogue, and its lifespan state."""
    async with running(exercise.app) as (client, state):
        async with state["sessions"].begin() as session:
            session.add_all(exercise.ProductRow(**product) for product in CATALOGUE)
        yield client, state


async def write(client: httpx.AsyncClient, method: str, product_id: int = 1) -> httpx.Response:
    """PUT the change to a product, or DELETE it."""
    if method == "PUT":
        return await client.put(f"/products/{product_id}", json=CHANGE)
    return await client.delete(f"/products/{product_id}")


async def rows(exercise: ModuleType, state: dict[str, Any]) -> list[dict[str, Any]]:
    """What the database holds, read through a session of its own."""
    async with state["sessions"]() as session:
        found = await session.scalars(select(exercise.ProductRow))
        return sorted(
            ({"id": r.id, "name": r.name, "price_cents": r.price_cents} for r in found),
            key=lambda product: product["id"],
        )


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


async def snapshot(redis: Any) -> dict[str, Any]:
    """Every key in Redis with its value."""
    return {key: await redis.get(key) for key in sorted(await redis.keys("*"))}


async def expect_read(
    client: httpx.AsyncClient, path: str, expected: Any, *, help: str | None = None
) -> None:
    """GET `path` answers `expected`: a body, or None for product 1's 404."""
    response = await client.get(path)
    if expected is None:
        expect_status(response, 404, help=help)
        expect_json(response, NOT_FOUND, help=help)
    else:
        expect_status(response, 200, help=help)
        expect_json(response, expected, help=help)


# -- the writes themselves (given) ---------------------------------------------------------


@pytest.mark.stub_may_pass("the stub's PUT already changes the row")
async def test_put_changes_the_row(exercise):
    """PUT answers 200 with the updated product, and the row is changed"""
    async with shop(exercise) as (client, state):
        response = await write(client, "PUT")
        stored = await rows(exercise, state)
    expect_status(response, 200)
    expect_json(response, NEW_LAMP)
    expect_equal("rows", [NEW_LAMP, SHELF, STOOL], stored)


@pytest.mark.stub_may_pass("the stub's DELETE already removes the row")
async def test_delete_removes_the_row(exercise):
    """DELETE answers 204 with no body, and the row is gone"""
    async with shop(exercise) as (client, state):
        response = await write(client, "DELETE")
        stored = await rows(exercise, state)
    expect_status(response, 204)
    expect_equal("body", b"", response.content)
    expect_equal("rows", [SHELF, STOOL], stored)


@pytest.mark.stub_may_pass("the stub invalidates nothing at all")
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_write_to_an_unknown_id(exercise, method):
    """a write to an id with no row answers 404 and changes nothing in Redis"""
    async with shop(exercise) as (client, state):
        for path in ("/products/1", "/products/2", "/products", "/products?limit=2"):
            expect_status(await client.get(path), 200)
        before = await snapshot(state["redis"])
        response = await write(client, method, 9)
        after = await snapshot(state["redis"])
    expect_status(response, 404)
    expect_json(response, NOT_FOUND)
    expect_equal("keys and values in Redis", before, after, help=NOTHING_FOR_404)


# -- the product's entry --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_write_deletes_the_entry(exercise, method):
    """a write deletes its product's entry, and only that one"""
    async with shop(exercise) as (client, state):
        expect_status(await client.get("/products/1"), 200)
        expect_status(await client.get("/products/2"), 200)
        expect_status(await write(client, method), 204 if method == "DELETE" else 200)
        entry = await state["redis"].get("shop:v1:product:1")
        other = await state["redis"].get("shop:v1:product:2")
    help = ENTRY_LEFT if entry is None or json.loads(entry) == LAMP else ENTRY_REWRITTEN
    expect(
        entry is None,
        f"expected no entry at shop:v1:product:1 after the write, not {entry}",
        help=help,
    )
    expect(other is not None, "expected the entry of product 2 to stay", help=ONLY_ITS_KEY)


async def test_read_after_put_is_fresh(exercise):
    """after a PUT, the next read answers the new product, caches it again, and hits after"""
    async with shop(exercise) as (client, state):
        expect_status(await client.get("/products/1"), 200)
        expect_status(await write(client, "PUT"), 200)
        since = await redis_ms(state["redis"])
        await expect_read(client, "/products/1", NEW_LAMP, help=ENTRY_LEFT)
        entry = await state["redis"].get("shop:v1:product:1")
        expect(entry is not None, "expected the read to cache the product again")
        expect_equal("JSON at shop:v1:product:1", NEW_LAMP, json.loads(entry))
        await expect_expiry(state["redis"], "shop:v1:product:1", PRODUCT_TTL_MS, since)
        with count_statements() as statements:
            await expect_read(client, "/products/1", NEW_LAMP)
    expect_no_sql(statements)


async def test_read_after_delete_is_404(exercise):
    """after a DELETE, a read of the product answers 404 and caches nothing"""
    async with shop(exercise) as (client, state):
        expect_status(await client.get("/products/1"), 200)
        expect_status(await write(client, "DELETE"), 204)
        await expect_read(client, "/products/1", None, help=ENTRY_LEFT)
        entry = await state["redis"].get("shop:v1:product:1")
    expect(entry is None, f"expected no entry at shop:v1:product:1, not {entry}")


# -- the lists ------------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the list's SQL is given")
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/products", [LAMP, SHELF, STOOL]),
        ("/products?limit=2", [LAMP, SHELF]),
        ("/products?limit=1", [LAMP]),
        ("/products?limit=100", [LAMP, SHELF, STOOL]),
    ],
    ids=["default", "2", "1", "100"],
)
async def test_list_by_id(exercise, path, expected):
    """the list answers the first N products by id"""
    async with shop(exercise) as (client, _):
        await expect_read(client, path, expected)


@pytest.mark.stub_may_pass("the limit's bounds are given")
@pytest.mark.parametrize("limit", [0, 101, -1])
async def test_limit_out_of_bounds(exercise, limit):
    """a limit below 1 or above 100 answers 422"""
    async with shop(exercise) as (client, _):
        expect_status(await client.get(f"/products?limit={limit}"), 422)


@pytest.mark.parametrize(
    ("path", "key", "expected"),
    [
        ("/products", "shop:v1:products:0:20", [LAMP, SHELF, STOOL]),
        ("/products?limit=2", "shop:v1:products:0:2", [LAMP, SHELF]),
    ],
    ids=["default", "2"],
)
async def test_list_is_cached_under_version_0(exercise, path, key, expected):
    """before any write, a list is cached under shop:v1:products:0:{limit} for LIST_TTL (60 s)"""
    async with shop(exercise) as (client, state):
        since = await redis_ms(state["redis"])
        await expect_read(client, path, expected)
        entry = await state["redis"].get(key)
        expect(entry is not None, f"expected the list cached under {key}", help=LIST_KEY_HELP)
        expect_equal(f"JSON at {key}", expected, json.loads(entry))
        await expect_expiry(state["redis"], key, LIST_TTL_MS, since)


@pytest.mark.stub_may_pass("the stub already caches the list")
async def test_list_hit_sends_no_sql(exercise):
    """a second read of a list answers the same body without sending any SQL"""
    async with shop(exercise) as (client, _):
        await expect_read(client, "/products?limit=2", [LAMP, SHELF])
        with count_statements() as statements:
            await expect_read(client, "/products?limit=2", [LAMP, SHELF])
    expect_no_sql(statements)


# -- the version ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_write_increments_the_version(exercise, method):
    """each write adds 1 to shop:v1:products:version, which never expires"""
    async with shop(exercise) as (client, state):
        redis = state["redis"]
        expect_status(await write(client, method), 204 if method == "DELETE" else 200)
        expect_equal(
            f"{VERSION_KEY} after one write", "1", await redis.get(VERSION_KEY), help=VERSION_HELP
        )
        expect_status(await write(client, "PUT", 2), 200)
        expect_equal(
            f"{VERSION_KEY} after two writes", "2", await redis.get(VERSION_KEY), help=VERSION_HELP
        )
        expect_equal(f"TTL of {VERSION_KEY}", -1, await redis.ttl(VERSION_KEY), help=VERSION_HELP)
        expect_status(await client.get("/products"), 200)
        entry = await redis.get("shop:v1:products:2:20")
    expect(
        entry is not None,
        "expected the list cached under shop:v1:products:2:20",
        help=LIST_KEY_HELP,
    )


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_every_list_is_fresh_after_a_write(exercise, method):
    """after a write, every cached list, whatever its limit, shows the change"""
    paths = {"/products": slice(None), "/products?limit=2": slice(2), "/products?limit=1": slice(1)}
    async with shop(exercise) as (client, _):
        for path in paths:
            expect_status(await client.get(path), 200)
        expect_status(await write(client, method), 204 if method == "DELETE" else 200)
        for path, cut in paths.items():
            await expect_read(client, path, AFTER[method]["list"][cut], help=STALE_LIST)


async def test_old_lists_are_left_to_expire(exercise):
    """a write leaves the lists of the old version in Redis, to expire by their TTL"""
    async with shop(exercise) as (client, state):
        redis = state["redis"]
        expect_status(await client.get("/products"), 200)
        old = await redis.get("shop:v1:products:0:20")
        expect(
            old is not None,
            "expected the list cached under shop:v1:products:0:20",
            help=LIST_KEY_HELP,
        )
        expect_status(await write(client, "PUT"), 200)
        expect_equal(
            "entry at shop:v1:products:0:20 after the write",
            old,
            await redis.get("shop:v1:products:0:20"),
            help=SEARCHED,
        )
        await expect_read(client, "/products", AFTER["PUT"]["list"], help=STALE_LIST)
        expect_equal(
            "entry at shop:v1:products:0:20",
            old,
            await redis.get("shop:v1:products:0:20"),
            help=SEARCHED,
        )


# -- the order: commit, then invalidate -----------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize(
    ("read", "path"), [("item", "/products/1"), ("list", "/products")], ids=["item", "list"]
)
async def test_read_while_the_write_commits(exercise, method, read, path):
    """a read that arrives while a write commits does not put the old data back in the cache"""
    async with shop(exercise) as (client, state):
        expect_status(await client.get(path), 200)
        during: list[httpx.Response] = []

        def read_while_committing(connection: Any) -> None:
            if not during:
                during.append(await_(client.get(path)))

        event.listen(Engine, "commit", read_while_committing)
        try:
            response = await write(client, method)
        finally:
            event.remove(Engine, "commit", read_while_committing)
        expect_status(response, 204 if method == "DELETE" else 200)
        expect(during, f"expected the {method} to commit its change")
        bumped = await state["redis"].get(VERSION_KEY) is not None
        await expect_read(client, path, AFTER[method][read], help=TOO_EARLY if bumped else NONE)


# -- the given lifespan --------------------------------------------------------------------


@pytest.mark.stub_may_pass("the lifespan is given")
async def test_engine_is_disposed(exercise):
    """the app disposes of its engine when it shuts down, leaving no connection open"""
    async with shop(exercise) as (client, state):
        expect_status(await client.get("/products/1"), 200)
        engine = state["engine"]
    expect_equal("connections left in the pool after shutdown", 0, engine.pool.checkedin())
