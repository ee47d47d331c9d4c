"""Hidden suite for 10_redis_caching/04_cached_etag: the cache entry carries the ETag.

Every check starts the app on a fresh database and an empty Redis (the `database_url` and
`redis_url` fixtures), adds rows through the app's own sessionmaker and reads Redis through
the app's own client.  A hit is proved by counting the SQL statements every engine sends
(`count_statements`) and by answers only the entry can give; a TTL is read back from Redis.
"""

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import httpx
import pytest

from workbook.services import count_statements
from workbook.testing import (
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    running,
)

# The contract says a warning is an error in the checks (a deprecated call fails them).
pytestmark = pytest.mark.filterwarnings("error")

PRODUCT_TTL = 300
LAMP = {"id": 41, "name": "Desk lamp", "price_cents": 3900}
CHAIR = {"id": 42, "name": "Office chair", "price_cents": 12900}
KEY, OLD_KEY = "shop:v2:product:41", "shop:v1:product:41"
NOT_FOUND = {"detail": "Product not found"}


def body_of(product: dict[str, Any]) -> bytes:
    """The product's JSON as Product.model_dump_json() writes it: compact, fields in order."""
    return json.dumps(product, separators=(",", ":")).encode()


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


LAMP_BODY = body_of(LAMP)
LAMP_TAG = etag_of(LAMP_BODY)
OTHER_TAG = etag_of(b"another representation")

ETAG = (
    "Is the ETag the SHA-256 hex digest of exactly the bytes the response carries, in double "
    "quotes and without W/: f'\"{hashlib.sha256(body).hexdigest()}\"'?"
)
BODY = (
    "Is the body the product's JSON exactly as Product.model_dump_json() writes it, sent as "
    "application/json? The bytes hashed must be the bytes sent."
)
ENTRY = (
    "Does a miss store a Redis hash under shop:v2:product:{id} with two fields, body (the "
    "JSON sent) and etag (its ETag)? hset(key, mapping={...}) writes both."
)
NO_TTL = (
    "Is the entry given a TTL of PRODUCT_TTL seconds? A hash has no ex= of its own: send "
    "EXPIRE with the HSET, in one MULTI/EXEC pipeline."
)
FROM_ENTRY = (
    "Does a hit answer from the entry alone, body and ETag as they were stored, without "
    "loading the row or computing anything from SQL?"
)
NOT_MODIFIED = (
    "When If-None-Match names the current ETag, is the answer 304 with the ETag header and "
    "no body? Compare against the ETag of the entry, hit or miss."
)
NO_SQL = (
    "Is the comparison made after the entry is found in Redis, so that a revalidation of a "
    "cached product sends no SQL at all?"
)
FORMS = (
    "If-None-Match is a comma-separated list of tags, spaces around each allowed: does any "
    'of them match, with W/"x" counting as "x"? And does * alone match any product that '
    "exists?"
)
UNKNOWN = (
    "Does an unknown product answer the given 404 before any ETag is worked out, with "
    "nothing stored, whatever If-None-Match says?"
)
WRITE = (
    "Does PUT answer the new body with its own ETag, and delete the entry after the commit, "
    "so that the next read loads the new row and gets the new tag?"
)
OLD_FORMAT = (
    "The entry's format changed, so its key did too: is the key shop:v2:product:{id}? An "
    "entry left at shop:v1:... by the previous version of the app holds plain JSON."
)


@pytest.fixture(autouse=True)
def services(database_url: str, redis_url: str | None) -> None:
    """Each check gets an empty database and an empty Redis, named by the environment."""


@asynccontextmanager
async def shop(exercise: ModuleType) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    """The app running on a fresh database holding the lamp and the chair, and its state."""
    async with running(exercise.app) as (client, state):
        async with state["sessions"].begin() as session:
            session.add_all(exercise.ProductRow(**product) for product in (LAMP, CHAIR))
        yield client, state


async def redis_ms(redis: Any) -> int:
    """The Redis server's own clock, in milliseconds."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


def expect_representation(response: httpx.Response, body: bytes, *, help: str = BODY) -> None:
    """A 200 carrying exactly `body`, as JSON, with the ETag of these bytes."""
    expect_status(response, 200, help=help)
    expect_equal("body", body.decode(), response.text, help=help)
    expect_header(response, "content-type", "application/json", help=BODY)
    expect_header(response, "etag", etag_of(response.content), help=ETAG)


def expect_not_modified(response: httpx.Response, etag: str, *, help: str = NOT_MODIFIED) -> None:
    expect_status(response, 304, help=help)
    expect_equal("body of the 304", "", response.text, help=help)
    expect_header(response, "etag", etag, help=help)


def conditional(etag: str) -> dict[str, str]:
    return {"If-None-Match": etag}


# -- a miss: loaded, answered with its ETag, stored --------------------------------------


async def test_miss_answers_body_and_etag(exercise):
    """a product that is not cached answers its JSON with ETag: the SHA-256 of the body"""
    async with shop(exercise) as (client, _):
        response = await client.get("/products/41")
    expect_representation(response, LAMP_BODY)
    expect_json(response, LAMP)


async def test_miss_stores_body_and_etag(exercise):
    """a miss stores the body and its ETag as the hash shop:v2:product:{id}"""
    async with shop(exercise) as (client, state):
        response = await client.get("/products/41")
        kind = await state["redis"].type(KEY)
        expect_equal(f"Redis type of {KEY}", "hash", kind, help=ENTRY)
        entry = await state["redis"].hgetall(KEY)
    expect_status(response, 200)
    expect_equal(f"entry at {KEY}", {"body": response.text, "etag": LAMP_TAG}, entry, help=ENTRY)


async def test_entry_lives_product_ttl(exercise):
    """the entry is stored with a TTL of PRODUCT_TTL (300) seconds"""
    async with shop(exercise) as (client, state):
        since = await redis_ms(state["redis"])
        expect_status(await client.get("/products/41"), 200)
        left = await state["redis"].pttl(KEY)
        passed = await redis_ms(state["redis"]) - since
    expect(left != -2, f"expected an entry at {KEY}, found none", help=ENTRY)
    expect(left != -1, f"expected {KEY} to expire after {PRODUCT_TTL} s, not never", help=NO_TTL)
    expect(
        left <= PRODUCT_TTL * 1000 <= left + passed + 1,
        f"expected {KEY} to expire {PRODUCT_TTL} s after it was stored, "
        f"not about {round((left + passed / 2) / 1000)} s",
        help=NO_TTL,
    )


# -- a hit: the entry alone, no SQL -------------------------------------------------------


async def test_hit_answers_the_same_etag(exercise):
    """a second read answers the same bytes and the same ETag, without sending any SQL"""
    async with shop(exercise) as (client, _):
        first = await client.get("/products/41")
        with count_statements() as statements:
            second = await client.get("/products/41")
    expect_representation(first, LAMP_BODY)
    expect_representation(second, LAMP_BODY, help=FROM_ENTRY)
    expect_equal("statements sent by a hit", 0, statements.count, help=FROM_ENTRY)


async def test_hit_answers_the_entry(exercise):
    """a cached product is answered with the body and ETag of its entry, even if the row changed"""
    stored = body_of(LAMP | {"name": "Reading lamp"})
    async with shop(exercise) as (client, state):
        await state["redis"].hset(KEY, mapping={"body": stored, "etag": etag_of(stored)})
        with count_statements() as statements:
            response = await client.get("/products/41")
            revalidated = await client.get("/products/41", headers=conditional(etag_of(stored)))
    expect_representation(response, stored, help=FROM_ENTRY)
    expect_not_modified(revalidated, etag_of(stored), help=FROM_ENTRY)
    expect_equal("statements sent by two hits", 0, statements.count, help=FROM_ENTRY)


# -- If-None-Match --------------------------------------------------------------------------


async def test_match_on_a_hit_is_304_without_sql(exercise):
    """If-None-Match with the current ETag answers 304: the ETag, no body, and no SQL"""
    async with shop(exercise) as (client, _):
        expect_status(await client.get("/products/41"), 200)
        with count_statements() as statements:
            response = await client.get("/products/41", headers=conditional(LAMP_TAG))
    expect_not_modified(response, LAMP_TAG)
    expect_equal("statements sent by a revalidation", 0, statements.count, help=NO_SQL)


async def test_match_on_a_miss_loads_once(exercise):
    """a matching If-None-Match on a cold cache loads the row once, stores it, answers 304"""
    async with shop(exercise) as (client, state):
        with count_statements() as statements:
            response = await client.get("/products/41", headers=conditional(LAMP_TAG))
        entry = await state["redis"].hgetall(KEY)
    expect_not_modified(response, LAMP_TAG)
    expect_equal("statements sent by a cold revalidation", 1, statements.count)
    expect_equal(
        f"entry at {KEY}", {"body": LAMP_BODY.decode(), "etag": LAMP_TAG}, entry, help=ENTRY
    )


MATCHING = {
    "the-tag": LAMP_TAG,
    "second-in-a-list": f"{OTHER_TAG}, {LAMP_TAG}",
    "first-in-a-list": f"{LAMP_TAG},{OTHER_TAG}",
    "weak": f"W/{LAMP_TAG}",
    "star": "*",
    "star-with-spaces": "  *  ",
}
NOT_MATCHING = {
    "another-tag": OTHER_TAG,
    "digest-without-quotes": LAMP_TAG.strip('"'),
    "weak-other-tag": f"W/{OTHER_TAG}",
    "empty": "",
}


@pytest.mark.parametrize("header", MATCHING.values(), ids=MATCHING.keys())
async def test_matching_if_none_match_is_304(exercise, header):
    """If-None-Match matches when any listed tag is the ETag (W/ allowed), or when it is *"""
    async with shop(exercise) as (client, _):
        expect_status(await client.get("/products/41"), 200)
        response = await client.get("/products/41", headers={"If-None-Match": header})
    expect_not_modified(response, LAMP_TAG, help=FORMS)


@pytest.mark.parametrize("header", NOT_MATCHING.values(), ids=NOT_MATCHING.keys())
async def test_other_if_none_match_is_200(exercise, header):
    """If-None-Match naming other tags only, or empty, answers 200 with the body"""
    async with shop(exercise) as (client, _):
        expect_status(await client.get("/products/41"), 200)
        response = await client.get("/products/41", headers={"If-None-Match": header})
    expect_representation(response, LAMP_BODY, help=FORMS)


@pytest.mark.stub_may_pass("the stub already answers the given 404 and caches nothing for it")
@pytest.mark.parametrize("header", [None, "*"], ids=["plain", "if-none-match-star"])
async def test_unknown_product_is_404(exercise, header):
    """an unknown product answers 404 without an ETag, whatever If-None-Match says"""
    headers = {} if header is None else {"If-None-Match": header}
    async with shop(exercise) as (client, state):
        response = await client.get("/products/7", headers=headers)
        keys = await state["redis"].keys("*")
    expect_status(response, 404, help=UNKNOWN)
    expect_json(response, NOT_FOUND, help=UNKNOWN)
    expect_header(response, "etag", None, help=UNKNOWN)
    expect_equal("keys in Redis after a 404", [], keys, help=UNKNOWN)


# -- writes, and the old format -----------------------------------------------------------


async def test_write_changes_the_etag(exercise):
    """a write answers the new body with its new ETag, and the old ETag no longer matches"""
    change = {"name": "Floor lamp", "price_cents": 4900}
    new_body = body_of({"id": 41} | change)
    async with shop(exercise) as (client, _):
        expect_status(await client.get("/products/41"), 200)
        written = await client.put("/products/41", json=change)
        stale = await client.get("/products/41", headers=conditional(LAMP_TAG))
        fresh = await client.get("/products/41", headers=conditional(etag_of(new_body)))
    expect_representation(written, new_body, help=WRITE)
    expect_representation(stale, new_body, help=WRITE)
    expect_not_modified(fresh, etag_of(new_body), help=WRITE)


async def test_old_entries_are_not_read(exercise):
    """an entry of the old format, a JSON string at shop:v1:product:{id}, is never read"""
    async with shop(exercise) as (client, state):
        await state["redis"].set(OLD_KEY, json.dumps(LAMP | {"name": "Old lamp"}))
        with count_statements() as statements:
            response = await client.get("/products/41")
    expect_representation(response, LAMP_BODY, help=OLD_FORMAT)
    expect_equal("statements sent by a miss", 1, statements.count, help=OLD_FORMAT)


@pytest.mark.stub_may_pass("the lifespan is given")
async def test_engine_is_disposed(exercise):
    """the app disposes of its engine when it shuts down, leaving no connection open"""
    async with shop(exercise) as (client, state):
        expect_status(await client.get("/products/41"), 200)
        engine = state["engine"]
    expect_equal("connections left in the pool after shutdown", 0, engine.pool.checkedin())
