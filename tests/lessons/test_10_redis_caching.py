"""Every snippet of lessons/10-redis-caching.md runs and does what the page says.

The checks that start an app or talk to Redis request the ``database_url`` and ``redis_url``
fixtures: embedded (SQLite and fakeredis) by default, and a real PostgreSQL and Redis when
``DATABASE_URL`` and ``REDIS_URL`` are set, which is how the claims about fakeredis against
a real Redis are proved.
"""

import hashlib
import importlib.util
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from fakeredis import FakeAsyncRedis
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import AbstractBackoff, ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from workbook import services
from workbook.loader import load_copy
from workbook.services import count_statements
from workbook.testing import running

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "10-redis-caching.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "10_redis_caching"
TESTED = {
    "catalogue.py",
    "cache_aside.py",
    "ttl_checks.py",
    "invalidation.py",
    "too_early.py",
    "single_flight.py",
    "redis_lock.py",
    "two_instances.py",
    "cached_etag.py",
    "redis_down.py",
}
NEIGHBOURS = ("catalogue", "cache_aside", "invalidation", "redis_lock", "two_instances")
LAMP = (1, "Desk lamp", 3900)
LAMP_JSON = b'{"id":1,"name":"Desk lamp","price_cents":3900}'
NEW_LAMP = {"name": "Brass lamp", "price_cents": 4900}


def fresh(filename: str) -> ModuleType:
    """A new copy of a snippet, and of the neighbours it imports by name."""
    for name in NEIGHBOURS:
        sys.modules.pop(name, None)
    return load_copy(SNIPPETS / filename)


async def seed(state: dict[str, Any], *rows: tuple[int, str, int]) -> None:
    product_row = sys.modules["catalogue"].ProductRow
    async with state["sessions"]() as session:
        session.add_all(
            product_row(id=id, name=name, price_cents=cents) for id, name, cents in rows
        )
        await session.commit()


def patch_method(
    monkeypatch: pytest.MonkeyPatch,
    redis: Redis,
    name: str,
    around: Callable[..., Awaitable[Any]],
) -> None:
    """Replace one command of this client: `around(original, *args, **kwargs)` runs instead."""
    original = getattr(redis, name)

    async def patched(*args: Any, **kwargs: Any) -> Any:
        return await around(original, *args, **kwargs)

    monkeypatch.setattr(redis, name, patched)


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "10_redis_caching/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


# -- catalogue.py: the engine and the client come from the lifespan ------------------------


async def test_the_lifespan_reads_the_urls_when_it_starts(
    database_url: str, redis_url: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = fresh("cache_aside.py")
    if redis_url is None:  # read at start-up: a URL set after the import still counts
        monkeypatch.setenv("DATABASE_URL", services.sqlite_url(tmp_path / "later.sqlite3"))
    async with running(module.app) as (_, state):
        redis = state["redis"]
        url = state["engine"].url.render_as_string(hide_password=False)
        assert await redis.ping()
    assert url == os.environ["DATABASE_URL"]
    assert isinstance(redis, Redis)  # fakeredis's client is redis-py's, on a fake connection
    if redis_url is None:
        assert isinstance(redis, FakeAsyncRedis)
    else:
        assert redis.connection_pool.connection_kwargs["db"] == services.redis_database()


async def test_aclose_disconnects_a_real_clients_pool_but_not_fakeredis(
    database_url: str, redis_url: str | None
) -> None:
    module = fresh("cache_aside.py")
    async with running(module.app) as (_, state):
        redis = state["redis"]
        await redis.set("shop:v1:note", "one command: one pooled connection")
        pool = redis.connection_pool
        assert [c.is_connected for c in pool._get_free_connections()] == [True]
    after = [c.is_connected for c in pool._get_free_connections()]
    # fakeredis builds the pool and hands it in, so its client does not own (or close) it
    assert redis.auto_close_connection_pool is (redis_url is not None)
    assert after == ([True] if redis_url is None else [False])


async def test_each_start_gets_an_empty_fakeredis_but_a_real_redis_keeps_its_keys(
    database_url: str, redis_url: str | None
) -> None:
    module = fresh("cache_aside.py")
    async with running(module.app) as (_, state):
        await state["redis"].set("shop:v1:note", "written by the first run")
    async with running(module.app) as (_, state):
        survived = await state["redis"].get("shop:v1:note")
    assert survived == (None if redis_url is None else "written by the first run")


# -- cache_aside.py -------------------------------------------------------------------------


async def test_a_second_read_sends_no_sql(database_url: str, redis_url: str | None) -> None:
    module = fresh("cache_aside.py")
    async with running(module.app) as (client, state):
        await seed(state, LAMP)
        with count_statements() as miss:
            first = await client.get("/products/1")
        with count_statements() as hit:
            second = await client.get("/products/1")
        cached = await state["redis"].get("shop:v1:product:1")
        ttl = await state["redis"].ttl("shop:v1:product:1")
        with count_statements() as padded:
            third = await client.get("/products/001")  # the same key: the id is an int
    assert first.status_code == second.status_code == 200
    assert third.content == LAMP_JSON
    assert padded.count == 0, padded.listing()
    assert first.content == second.content == LAMP_JSON  # the same bytes, hit or miss
    assert miss.count == 1, miss.listing()
    assert hit.count == 0, hit.listing()
    assert cached == LAMP_JSON.decode()  # the JSON of the Pydantic model, nothing else
    assert module.PRODUCT_TTL - 1 <= ttl <= module.PRODUCT_TTL


async def test_an_unknown_product_is_a_404_that_is_not_cached(
    database_url: str, redis_url: str | None
) -> None:
    module = fresh("cache_aside.py")
    async with running(module.app) as (client, state):
        with count_statements() as statements:
            first = await client.get("/products/7")
            second = await client.get("/products/7")
        keys = await state["redis"].keys("*")
    assert first.status_code == second.status_code == 404
    assert first.json() == {"detail": "Product not found"}
    assert statements.count == 2, statements.listing()  # each 404 asks the database again
    assert keys == []


# -- ttl_checks.py, and what TTL answers on fakeredis and on a real Redis -------------------


async def test_the_ttl_check_passes(database_url: str, redis_url: str | None) -> None:
    module = fresh("ttl_checks.py")
    await module.test_a_product_is_cached_for_product_ttl_seconds()


async def test_ttl_answers_are_the_same_on_fakeredis_and_redis(
    database_url: str, redis_url: str | None
) -> None:
    module = fresh("cache_aside.py")
    async with running(module.app) as (_, state):
        redis = state["redis"]
        await redis.set("a", "x", px=59_600)
        rounded_up = await redis.ttl("a")
        await redis.set("a", "x", px=59_400)
        rounded_down = await redis.ttl("a")
        pttl = await redis.pttl("a")
        await redis.set("a", "x", ex=60)
        await redis.set("a", "y", keepttl=True)
        kept = await redis.ttl("a")
        await redis.set("a", "z")  # a plain SET replaces the value and drops the TTL
        dropped = await redis.ttl("a")
        missing = await redis.ttl("b")
    assert (rounded_up, rounded_down) == (60, 59)  # TTL rounds to the nearest second
    assert 59_000 < pttl <= 59_400
    assert kept == 60
    assert (dropped, missing) == (-1, -2)


async def test_fakeredis_reads_time_time_so_a_test_can_move_its_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    redis = FakeAsyncRedis(decode_responses=True)
    await redis.set("shop:v1:product:1", "{}", ex=300)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 299)
    assert await redis.ttl("shop:v1:product:1") == 1
    monkeypatch.setattr(time, "time", lambda: now + 301)
    assert await redis.get("shop:v1:product:1") is None
    await redis.aclose()


# -- invalidation.py and too_early.py -------------------------------------------------------


async def test_a_write_deletes_the_entry_and_moves_the_lists_to_a_new_version(
    database_url: str, redis_url: str | None
) -> None:
    module = fresh("invalidation.py")
    async with running(module.app) as (client, state):
        redis = state["redis"]
        await seed(state, LAMP, (2, "Stool", 2500))
        await client.get("/products/1")
        before = (await client.get("/products")).json()
        assert await redis.exists("shop:v1:product:1", "shop:v1:products:0") == 2
        changed = await client.put("/products/1", json=NEW_LAMP)
        assert await redis.exists("shop:v1:product:1") == 0
        assert await redis.get("shop:v1:products:version") == "1"
        old_list_ttl = await redis.ttl("shop:v1:products:0")  # left to expire, never scanned
        with count_statements() as statements:
            after = (await client.get("/products")).json()
            read = await client.get("/products/1")
        lists = await redis.exists("shop:v1:products:0", "shop:v1:products:1")
    assert changed.status_code == 200
    assert changed.json() == {"id": 1, **NEW_LAMP}
    assert before[0]["name"] == "Desk lamp"
    assert after[0] == read.json() == {"id": 1, **NEW_LAMP}
    assert statements.count == 2, statements.listing()
    assert 0 < old_list_ttl <= module.LIST_TTL
    assert lists == 2


async def test_a_delete_forgets_the_product_everywhere(
    database_url: str, redis_url: str | None
) -> None:
    module = fresh("invalidation.py")
    async with running(module.app) as (client, state):
        await seed(state, LAMP, (2, "Stool", 2500))
        await client.get("/products/1")
        await client.get("/products")
        deleted = await client.delete("/products/1")
        gone = await client.get("/products/1")
        listed = (await client.get("/products")).json()
        missing = await client.put("/products/1", json=NEW_LAMP)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert gone.status_code == missing.status_code == 404
    assert [product["id"] for product in listed] == [2]


async def read_between(
    client: httpx.AsyncClient, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Right after the write's DEL, another request reads the product: the names it saw."""
    seen: list[str] = []

    async def delete_then_read(original: Any, *keys: str) -> int:
        deleted = await original(*keys)
        seen.append((await client.get("/products/1")).json()["name"])
        return deleted

    patch_method(monkeypatch, redis, "delete", delete_then_read)
    return seen


@pytest.mark.parametrize(
    ("snippet", "read_in_between", "served_after"),
    [("too_early.py", "Desk lamp", "Desk lamp"), ("invalidation.py", "Brass lamp", "Brass lamp")],
)
async def test_a_delete_before_the_commit_lets_a_read_cache_the_old_row(
    database_url: str,
    redis_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    snippet: str,
    read_in_between: str,
    served_after: str,
) -> None:
    module = fresh(snippet)
    async with running(module.app) as (client, state):
        await seed(state, LAMP)
        seen = await read_between(client, state["redis"], monkeypatch)
        written = await client.put("/products/1", json=NEW_LAMP)
        monkeypatch.undo()
        after = await client.get("/products/1")
        ttl = await state["redis"].ttl("shop:v1:product:1")
    assert written.status_code == 200
    assert seen == [read_in_between]
    assert after.json()["name"] == served_after
    if snippet == "too_early.py":
        assert 0 < ttl <= 300  # stale until the TTL runs out


async def test_a_slow_reader_can_still_cache_the_old_row_but_not_an_old_list(
    database_url: str, redis_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race left after commit-then-delete: a read that loaded before the write stores late."""
    module = fresh("invalidation.py")
    async with running(module.app) as (client, state):
        await seed(state, LAMP)

        async def slow_read_across_a_write(path: str, change: dict[str, Any]) -> None:
            loaded, release = anyio.Event(), anyio.Event()

            async def set_late(original: Any, *args: Any, **kwargs: Any) -> Any:
                loaded.set()
                await release.wait()
                return await original(*args, **kwargs)

            patch_method(monkeypatch, state["redis"], "set", set_late)
            with anyio.fail_after(5):
                async with anyio.create_task_group() as group:
                    group.start_soon(client.get, path)
                    await loaded.wait()  # it has read the old row, and not stored it yet
                    await client.put("/products/1", json=change)
                    release.set()
            monkeypatch.undo()

        await slow_read_across_a_write("/products/1", NEW_LAMP)
        product = (await client.get("/products/1")).json()
        cheaper = {**NEW_LAMP, "price_cents": 4500}
        await slow_read_across_a_write("/products", cheaper)
        listed = (await client.get("/products")).json()
    assert product["name"] == "Desk lamp"  # stale: the slow reader stored it after the DEL
    assert listed == [{"id": 1, **cheaper}]  # stored under the old list version, never read


# -- single_flight.py -----------------------------------------------------------------------


async def cold_reads(app: Any, n: int = 20) -> tuple[list[httpx.Response], int]:
    """`n` requests for one cold product that all miss the cache before any of them loads."""
    async with running(app) as (client, state):
        redis = state["redis"]
        await seed(state, LAMP)
        missed = 0
        everyone_missed = anyio.Event()
        original = redis.get

        async def get_and_wait(key: str) -> Any:
            nonlocal missed
            value = await original(key)
            missed += 1
            if missed == n:
                everyone_missed.set()
            await everyone_missed.wait()
            return value

        redis.get = get_and_wait
        responses: list[httpx.Response] = []

        async def read() -> None:
            responses.append(await client.get("/products/1"))

        with count_statements() as statements, anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                for _ in range(n):
                    group.start_soon(read)
    return responses, statements.count


async def test_twenty_cold_misses_load_twenty_times_without_single_flight(
    database_url: str, redis_url: str | None
) -> None:
    responses, loads = await cold_reads(fresh("cache_aside.py").app)
    assert [response.content for response in responses] == [LAMP_JSON] * 20
    assert loads == 20


async def test_twenty_cold_misses_load_once_with_single_flight(
    database_url: str, redis_url: str | None
) -> None:
    responses, loads = await cold_reads(fresh("single_flight.py").app)
    assert [response.content for response in responses] == [LAMP_JSON] * 20
    assert loads == 1


async def test_a_flight_for_an_unknown_product_is_a_404_for_everyone(
    database_url: str, redis_url: str | None
) -> None:
    module = fresh("single_flight.py")
    async with running(module.app) as (client, _):
        answers = [(await client.get("/products/9")).status_code for _ in range(2)]
    assert answers == [404, 404]


async def test_a_failed_load_fails_every_waiter_once_and_is_not_kept() -> None:
    flights = fresh("single_flight.py").SingleFlight()
    started, fail = anyio.Event(), anyio.Event()
    calls = 0

    async def broken_load() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await fail.wait()
        raise ConnectionResetError("the database went away")

    outcomes: list[str] = []

    async def wait_for_it() -> None:
        try:
            await flights.run("shop:v1:product:1", broken_load)
        except ConnectionResetError as exc:
            outcomes.append(str(exc))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(wait_for_it)
            await started.wait()
            fail.set()

        async def load() -> str:
            return "loaded again"

        again = await flights.run("shop:v1:product:1", load)
    assert outcomes == ["the database went away"] * 5
    assert calls == 1
    assert again == "loaded again"


async def test_different_keys_do_not_wait_for_each_other_and_a_leaver_cancels_nothing() -> None:
    flights = fresh("single_flight.py").SingleFlight()
    release = anyio.Event()
    results: list[str] = []

    async def slow() -> str:
        await release.wait()
        return "slow"

    async def quick() -> str:
        return "quick"

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            leaver = anyio.CancelScope()

            async def leave() -> None:
                with leaver:
                    await flights.run("a", slow)

            async def stay() -> None:
                results.append(await flights.run("a", slow))

            group.start_soon(leave)
            group.start_soon(stay)
            await anyio.wait_all_tasks_blocked()
            results.append(await flights.run("b", quick))  # key a is still loading
            leaver.cancel()  # one caller of key a gives up: the load goes on for the other
            await anyio.wait_all_tasks_blocked()
            release.set()
    assert results == ["quick", "slow"]


# -- redis_lock.py and two_instances.py -----------------------------------------------------


async def test_two_instances_share_one_redis(redis_url: str | None) -> None:
    one, two = fresh("two_instances.py").two_instances(redis_url)
    await one.set("shop:v1:note", "from one")
    assert await two.get("shop:v1:note") == "from one"
    await one.aclose()
    await two.aclose()


async def test_only_one_instance_holds_the_lock_and_only_it_can_release_it(
    redis_url: str | None,
) -> None:
    lock = fresh("redis_lock.py")
    one, two = fresh("two_instances.py").two_instances(redis_url)
    name = "shop:v1:lock:product:1"
    token = await lock.acquire(one, name)
    assert token is not None
    assert await lock.acquire(two, name) is None
    assert 0 < await one.pttl(name) <= lock.LOCK_TTL_MS
    assert await lock.release(two, name, "not-the-token") is False
    assert await two.get(name) == token
    assert await lock.release(one, name, token) is True
    second = await lock.acquire(two, name)
    assert second is not None
    await two.delete(name)  # as if it expired ...
    third = await lock.acquire(one, name)  # ... and went to another holder
    assert await lock.release(two, name, second) is False  # the late release leaves it alone
    assert await one.get(name) == third
    await one.aclose()
    await two.aclose()


async def test_a_release_that_compares_str_with_bytes_never_releases(
    redis_url: str | None,
) -> None:
    lock = fresh("redis_lock.py")
    raw = Redis.from_url(redis_url) if redis_url else FakeAsyncRedis()  # no decode_responses
    token = await lock.acquire(raw, "shop:v1:lock:product:1")
    assert token is not None
    assert await raw.get("shop:v1:lock:product:1") == token.encode()
    assert await lock.release(raw, "shop:v1:lock:product:1", token) is False
    await raw.delete("shop:v1:lock:product:1")
    await raw.aclose()


async def test_redis_py_lock_needs_lua_which_fakeredis_runs_only_with_lupa(
    redis_url: str | None,
) -> None:
    one, _ = fresh("two_instances.py").two_instances(redis_url)
    lock = one.lock("shop:v1:lock:product:1", timeout=5)
    assert await lock.acquire(blocking=False)
    if redis_url is None:
        with pytest.raises(ResponseError, match="unknown command 'evalsha'"):
            await lock.release()
    else:
        await lock.release()
        assert await one.exists("shop:v1:lock:product:1") == 0
    await one.aclose()


# -- cached_etag.py -------------------------------------------------------------------------


async def test_a_hit_and_a_miss_carry_the_same_strong_etag(
    database_url: str, redis_url: str | None
) -> None:
    module = fresh("cached_etag.py")
    async with running(module.app) as (client, state):
        await seed(state, LAMP)
        miss = await client.get("/products/1")
        with count_statements() as statements:
            hit = await client.get("/products/1")
        entry = await state["redis"].hgetall("shop:v2:product:1")
        ttl = await state["redis"].ttl("shop:v2:product:1")
    etag = f'"{hashlib.sha256(LAMP_JSON).hexdigest()}"'
    assert miss.content == hit.content == LAMP_JSON
    assert miss.headers["etag"] == hit.headers["etag"] == etag
    assert hit.headers["content-type"] == "application/json"
    assert statements.count == 0, statements.listing()
    assert entry == {"body": LAMP_JSON.decode(), "etag": etag}
    assert module.PRODUCT_TTL - 1 <= ttl <= module.PRODUCT_TTL


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [("{etag}", 304), ("W/{etag}", 304), ('"other", {etag}', 304), ("*", 304), ('"other"', 200)],
)
async def test_if_none_match_gets_a_304_without_body_and_without_sql(
    database_url: str, redis_url: str | None, if_none_match: str, status: int
) -> None:
    module = fresh("cached_etag.py")
    async with running(module.app) as (client, state):
        await seed(state, LAMP)
        etag = (await client.get("/products/1")).headers["etag"]
        with count_statements() as statements:
            answer = await client.get(
                "/products/1", headers={"If-None-Match": if_none_match.format(etag=etag)}
            )
    assert answer.status_code == status
    assert answer.headers["etag"] == etag
    assert answer.headers["cache-control"] == "no-cache"
    assert statements.count == 0, statements.listing()
    if status == 304:
        assert answer.content == b""
        assert "content-length" not in answer.headers
        assert "content-type" not in answer.headers


async def test_a_write_changes_the_etag(database_url: str, redis_url: str | None) -> None:
    module = fresh("cached_etag.py")
    async with running(module.app) as (client, state):
        await seed(state, LAMP)
        old = (await client.get("/products/1")).headers["etag"]
        await client.put("/products/1", json=NEW_LAMP)
        answer = await client.get("/products/1", headers={"If-None-Match": old})
        unknown = await client.get("/products/2")
    assert answer.status_code == 200
    assert answer.json() == {"id": 1, **NEW_LAMP}
    assert answer.headers["etag"] != old
    assert unknown.status_code == 404


async def test_the_document_still_shows_the_product_schema(
    database_url: str, redis_url: str | None
) -> None:
    module = fresh("cached_etag.py")
    schema = module.app.openapi()["paths"]["/products/{product_id}"]["get"]["responses"]["200"]
    assert schema["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Product"
    }


# -- redis_down.py, and the client's timeouts -----------------------------------------------


@pytest.fixture
def cache_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO, logger="shop.cache"):
        yield caplog


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "shop.cache"]


async def test_with_redis_unreachable_every_read_comes_from_the_database_and_is_logged_once(
    database_url: str,
    redis_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    cache_log: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("REDIS_URL", services.UNREACHABLE_REDIS_URL)
    module = fresh("redis_down.py")
    async with running(module.app) as (client, state):  # starts: nothing asked Redis yet
        await seed(state, LAMP)
        with count_statements() as statements:
            reads = [await client.get("/products/1") for _ in range(10)]
        written = await client.put("/products/1", json=NEW_LAMP)
        after = await client.get("/products/1")
    assert [read.content for read in reads] == [LAMP_JSON] * 10
    assert statements.count == 10, statements.listing()
    assert written.status_code == 200
    assert after.json() == {"id": 1, **NEW_LAMP}
    logged = records(cache_log)
    assert len(logged) == 1
    level, message = logged[0]
    assert level == "WARNING"
    assert message.startswith(
        "Redis is unavailable, serving from the database: Error 111 connecting to 127.0.0.1:1."
    )


async def test_an_outage_ends_with_one_info_line_and_caching_resumes(
    database_url: str,
    redis_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    cache_log: pytest.LogCaptureFixture,
) -> None:
    module = fresh("redis_down.py")
    async with running(module.app) as (client, state):
        await seed(state, LAMP)

        async def refuse(original: Any, *args: Any, **kwargs: Any) -> Any:
            raise RedisConnectionError("Connection refused")

        for command in ("get", "set"):
            patch_method(monkeypatch, state["redis"], command, refuse)
        down = [(await client.get("/products/1")).status_code for _ in range(3)]
        monkeypatch.undo()
        await client.get("/products/1")
        with count_statements() as statements:
            hit = await client.get("/products/1")
    assert down == [200, 200, 200]
    assert hit.content == LAMP_JSON
    assert statements.count == 0, statements.listing()
    assert [level for level, _ in records(cache_log)] == ["WARNING", "INFO"]
    assert records(cache_log)[1][1] == "Redis is back"


async def test_an_invalidation_lost_in_an_outage_leaves_a_stale_entry_until_its_ttl(
    database_url: str, redis_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = fresh("redis_down.py")
    async with running(module.app) as (client, state):
        await seed(state, LAMP)
        await client.get("/products/1")

        async def refuse(original: Any, *args: Any) -> Any:
            raise RedisConnectionError("Connection refused")

        patch_method(monkeypatch, state["redis"], "delete", refuse)
        written = await client.put("/products/1", json=NEW_LAMP)
        monkeypatch.undo()
        after = await client.get("/products/1")
        ttl = await state["redis"].ttl("shop:v1:product:1")
    assert written.status_code == 200
    assert after.json()["name"] == "Desk lamp"
    assert 0 < ttl <= module.PRODUCT_TTL


async def test_a_stalled_redis_times_out_and_the_read_is_served_from_the_database(
    database_url: str,
    redis_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    cache_log: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as stalled:  # accepts connections (the kernel does) and never answers
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(8)
        port = stalled.getsockname()[1]
        monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
        module = fresh("redis_down.py")
        async with running(module.app) as (client, state):
            await seed(state, LAMP)
            answer = await client.get("/products/1")
            with pytest.raises(RedisTimeoutError, match="Timeout reading from"):
                await state["redis"].get("shop:v1:product:1")
    assert answer.content == LAMP_JSON
    [(level, message)] = records(cache_log)
    assert level == "WARNING"
    assert message == (
        f"Redis is unavailable, serving from the database: Timeout reading from 127.0.0.1:{port}"
    )


async def test_the_timeouts_and_retries_of_redis_py_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")  # nothing connects here
    ours = fresh("redis_down.py").redis_from_env().connection_pool.make_connection()
    given = sys.modules["catalogue"].redis_from_env().connection_pool.make_connection()
    plain = Redis.from_url("redis://127.0.0.1:6379/0").connection_pool.make_connection()
    constructed = Redis(host="127.0.0.1").connection_pool.make_connection()
    assert (ours.socket_connect_timeout, ours.socket_timeout) == (0.25, 0.25)
    assert (plain.socket_connect_timeout, plain.socket_timeout) == (5, 5)
    assert (given.socket_connect_timeout, given.socket_timeout) == (5, 5)
    assert plain.retry.get_retries() == 0  # from_url: no retries unless you pass retry=
    assert constructed.retry.get_retries() == 10  # Redis(...): ten, with backoff


async def test_a_refused_connection_and_a_fakeredis_outage_raise_the_same_class() -> None:
    refused = Redis.from_url(services.UNREACHABLE_REDIS_URL)
    emulated = FakeAsyncRedis(connected=False)
    for redis in (refused, emulated):
        with pytest.raises(RedisConnectionError) as caught:
            await redis.get("shop:v1:product:1")
        assert isinstance(caught.value, RedisError)
        await redis.aclose()


def test_every_redis_py_error_is_a_redis_error() -> None:
    for error in (RedisConnectionError, RedisTimeoutError, ResponseError):
        assert issubclass(error, RedisError)


retry_pauses: list[int] = []


class CountingBackoff(AbstractBackoff):
    """No pause at all; it notes each failure that the retry loop reports."""

    def reset(self) -> None:
        pass

    def compute(self, failures: int) -> float:
        retry_pauses.append(failures)
        return 0


async def test_each_retry_of_a_stalled_command_waits_its_socket_timeout_again() -> None:
    retry_pauses.clear()
    with socket.socket() as stalled:
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(16)
        redis = Redis(
            host="127.0.0.1",
            port=stalled.getsockname()[1],
            socket_timeout=0.02,
            retry=Retry(CountingBackoff(), 10),  # the constructor's count, without the pauses
        )
        with pytest.raises(RedisTimeoutError):
            await redis.get("shop:v1:product:1")
        await redis.aclose()
    assert retry_pauses == list(range(1, 11))  # ten retries: eleven attempts, eleven timeouts


def test_the_constructors_backoff_grows_from_ten_milliseconds_to_one_second() -> None:
    backoff = Redis(host="127.0.0.1").connection_pool.make_connection().retry._backoff
    assert isinstance(backoff, ExponentialWithJitterBackoff)
    assert all(0 <= backoff.compute(1) <= 0.02 for _ in range(50))
    assert all(0 <= backoff.compute(20) <= 1 for _ in range(50))


async def test_two_bare_fakeredis_clients_are_two_servers() -> None:
    one, two = FakeAsyncRedis(decode_responses=True), FakeAsyncRedis(decode_responses=True)
    await one.set("shop:v1:note", "from one")
    assert await two.get("shop:v1:note") is None
    await one.aclose()
    await two.aclose()


async def test_watch_makes_exec_refuse_when_another_client_changed_the_key(
    redis_url: str | None,
) -> None:
    one, two = fresh("two_instances.py").two_instances(redis_url)
    await one.set("shop:v1:lock:product:1", "mine")
    async with one.pipeline() as pipe:
        await pipe.watch("shop:v1:lock:product:1")
        await two.set("shop:v1:lock:product:1", "theirs")
        pipe.multi()
        pipe.delete("shop:v1:lock:product:1")
        with pytest.raises(WatchError):
            await pipe.execute()
    assert await one.get("shop:v1:lock:product:1") == "theirs"
    await one.delete("shop:v1:lock:product:1")
    await one.aclose()
    await two.aclose()


def test_this_workbook_installs_fakeredis_without_lua() -> None:
    assert importlib.util.find_spec("lupa") is None
