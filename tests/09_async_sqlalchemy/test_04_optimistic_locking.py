"""Hidden suite for 09_async_sqlalchemy/04_optimistic_locking: stale writes and duplicates.

Every check starts the app on a fresh database (the `database_url` fixture) and creates its
items over HTTP. "Another client" is a second engine on the same database, made by the suite:
to land a write between the app's read and its own write, the suite listens for the app's
first UPDATE (or INSERT) statement and, just before it goes out, commits its own change on
that second engine. Nothing here depends on how the app detects the conflict.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util import await_

from workbook.testing import (
    Failure,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    response_json,
    running,
)

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://example.com/problems/"
LAMP = {"sku": "LAMP-1", "name": "Desk lamp", "price": 3900}
CHAIR = {"sku": "CHAIR-1", "name": "Chair", "price": 12000}

VERSION_COL = (
    "Is version SQLAlchemy's version counter, __mapper_args__ = {'version_id_col': version}? "
    "Then an item starts at version 1 and every UPDATE that changes it sets the next one."
)
STALE_CHECK = (
    "Does the PATCH compare the version it was sent with the item's current version, and "
    "answer the stale-version problem (409) unless they are equal, before it changes anything?"
)
LOST_UPDATE = (
    "Another client committed between your read and your write, and your write still went "
    "through: a check in Python before the UPDATE cannot see it. With version_id_col the "
    "UPDATE says WHERE version = <the one you read>; when it matches no row, the commit raises "
    "StaleDataError: answer the stale-version problem for it."
)
SKU_CONFLICT = (
    "A taken sku raises IntegrityError when the session flushes (at the commit): catch it "
    "there and answer the duplicate problem, with no text from the database in it."
)
SKU_RACE = (
    "Another client took the same sku between your check and your write: a SELECT before "
    "the INSERT or UPDATE cannot see that. Let the unique index decide: catch IntegrityError."
)
NOTHING_WRITTEN = (
    "After a 409, nothing of the refused request may be stored: does the request raise "
    "before its commit, and is the session rolled back (closing it does that)?"
)
STALE_FIRST = "The version is checked first: a stale write is a stale write, whatever it sends."
FALSY = "Do you skip only the fields that are None? A price of 0 or an empty name is a change."
NO_CHANGE = (
    "A PATCH that changes no stored value must leave the version as it is: set only the "
    "fields that were sent, and let SQLAlchemy skip an UPDATE that changes nothing."
)
LOCKED = (
    "The other client could not write the row while your request was running: does the "
    "read lock it (SELECT ... FOR UPDATE)? Optimistic locking reads without a lock."
)
DATABASE_HELP = (
    "Does the lifespan create the engine from os.environ.get('DATABASE_URL', ...) when it "
    "starts, put it in the state as 'engine', and dispose of it at shutdown?"
)


def item(item_id: int, version: int, fields: dict[str, Any]) -> dict[str, Any]:
    return {"id": item_id, **fields, "version": version}


def problem(slug: str, title: str, detail: str, instance: str) -> dict[str, Any]:
    return {
        "type": PROBLEMS + slug,
        "title": title,
        "status": 409 if slug != "not-found" else 404,
        "detail": detail,
        "instance": instance,
    }


def stale(item_id: int) -> dict[str, Any]:
    detail = f"Item {item_id} has changed since you read it."
    return problem("stale-version", "Stale version", detail, f"/items/{item_id}")


def sku_taken(instance: str) -> dict[str, Any]:
    detail = "Another item already has this sku."
    return problem("duplicate", "Already exists", detail, instance) | {"field": "sku"}


def not_found(item_id: int) -> dict[str, Any]:
    detail = f"Item {item_id} does not exist."
    return problem("not-found", "Item not found", detail, f"/items/{item_id}")


@asynccontextmanager
async def started(exercise: ModuleType) -> AsyncIterator[httpx.AsyncClient]:
    async with running(exercise.app, raise_app_exceptions=False) as (client, _):
        yield client


async def create(client: httpx.AsyncClient, fields: dict[str, Any]) -> int:
    """Create an item that must be created; its id."""
    response = await client.post("/items", json=fields)
    expect_status(response, 201)
    body = response_json(response)
    expect(isinstance(body, dict) and isinstance(body.get("id"), int), f"expected an id in {body}")
    expect_equal("the new item's version", 1, body.get("version"), help=VERSION_COL)
    return body["id"]


async def patch(client: httpx.AsyncClient, item_id: int, **change: Any) -> httpx.Response:
    return await client.patch(f"/items/{item_id}", json=change)


async def stored(client: httpx.AsyncClient, item_id: int) -> Any:
    response = await client.get(f"/items/{item_id}")
    expect_status(response, 200)
    return response_json(response)


def expect_problem(response: httpx.Response, body: dict[str, Any], help: str) -> None:
    expect_status(response, body["status"], help=help)
    expect_header(response, "content-type", PROBLEM_JSON)
    expect_json(response, body, help=help)


@asynccontextmanager
async def another_client(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A second engine on the app's database: another client of it."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        yield engine
    finally:
        await engine.dispose()


@contextmanager
def just_before(verb: str, write: Callable[[], Awaitable[None]]) -> Iterator[list[BaseException]]:
    """Commit `write` right before the first statement starting with `verb` goes out.

    The listener runs inside the app's own database call, on SQLAlchemy's greenlet, so it
    can wait for the other client's write there; the app's statement follows once it is done.
    What the write raised (a lock held by the app, say) is kept in the list it yields.
    """
    fired: list[bool] = []
    errors: list[BaseException] = []

    async def guarded() -> None:
        try:
            await write()
        except Exception as exc:
            errors.append(exc)

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if fired or not statement.lstrip().upper().startswith(verb):
            return
        fired.append(True)  # first, so that the write's own statements pass
        await_(guarded())

    event.listen(Engine, "before_cursor_execute", listener)
    try:
        yield errors
    finally:
        event.remove(Engine, "before_cursor_execute", listener)
    expect(fired, f"expected the request to send an {verb} statement")


async def lock_timeout(engine: AsyncEngine, connection: Any) -> None:
    if engine.dialect.name == "postgresql":  # a row lock held by the app fails fast
        await connection.exec_driver_sql("SET LOCAL lock_timeout = '2s'")


@pytest.mark.stub_may_pass("creating and reading are given")
async def test_create_and_read(exercise, database_url):
    """a new item answers 201 at version 1, and reads back as it was stored"""
    async with started(exercise) as client:
        response = await client.post("/items", json=LAMP)
        expect_status(response, 201)
        body = response_json(response)
        expect(
            isinstance(body, dict) and isinstance(body.get("id"), int), f"expected an id in {body}"
        )
        expect_json(response, item(body["id"], 1, LAMP), help=VERSION_COL)
        expect_equal("the stored item", item(body["id"], 1, LAMP), await stored(client, body["id"]))


@pytest.mark.stub_may_pass("reading is given")
async def test_unknown_item(exercise, database_url):
    """an unknown item answers 404, for a read and for a patch whatever its version"""
    async with started(exercise) as client:
        item_id = await create(client, LAMP)
        unknown = item_id + 1
        expect_problem(await client.get(f"/items/{unknown}"), not_found(unknown), STALE_FIRST)
        response = await patch(client, unknown, version=1, name="Ghost")
        expect_problem(response, not_found(unknown), STALE_FIRST)
        response = await patch(client, unknown, version=7, name="Ghost")
        expect_problem(response, not_found(unknown), STALE_FIRST)


CHANGES = {
    "name": {"name": "Brass desk lamp"},
    "price to 0": {"price": 0},
    "empty name": {"name": ""},
    "sku": {"sku": "LAMP-2"},
    "several": {"name": "Brass desk lamp", "price": 4100, "sku": "LAMP-2"},
    "a null left alone": {"name": None, "price": 4100},
}


@pytest.mark.parametrize("change", list(CHANGES.values()), ids=list(CHANGES))
async def test_patch_with_current_version(exercise, database_url, change):
    """a patch sent with the current version answers 200 with the change and version 2"""
    async with started(exercise) as client:
        item_id = await create(client, LAMP)
        response = await patch(client, item_id, version=1, **change)
        sent = {field: value for field, value in change.items() if value is not None}
        expected = item(item_id, 2, LAMP | sent)
        expect_status(response, 200)
        body = response_json(response)
        same_fields = isinstance(body, dict) and body | {"version": 2} == expected
        expect_json(response, expected, help=VERSION_COL if same_fields else FALSY)
        expect_equal("the stored item", expected, await stored(client, item_id), help=VERSION_COL)


async def test_each_change_raises_the_version_by_one(exercise, database_url):
    """each patch that changes the item raises its version by exactly one"""
    async with started(exercise) as client:
        item_id = await create(client, LAMP)
        for version, price in [(1, 4000), (2, 4100), (3, 4200)]:
            response = await patch(client, item_id, version=version, price=price)
            expect_status(response, 200, help=STALE_CHECK)
            expected = item(item_id, version + 1, LAMP | {"price": price})
            expect_json(response, expected, help=VERSION_COL)


@pytest.mark.stub_may_pass("the stub never changes the version")
async def test_patch_that_changes_nothing(exercise, database_url):
    """a patch that changes no stored value answers the item as it is, at the same version"""
    async with started(exercise) as client:
        item_id = await create(client, LAMP)
        for change in [{}, {"name": "Desk lamp"}, {"price": 3900, "sku": "LAMP-1", "name": None}]:
            response = await patch(client, item_id, version=1, **change)
            expect_status(response, 200, help=STALE_CHECK)
            expect_json(response, item(item_id, 1, LAMP), help=NO_CHANGE)


async def test_stale_version_is_409(exercise, database_url):
    """a patch sent with any version but the current one answers 409 and changes nothing"""
    async with started(exercise) as client:
        item_id = await create(client, LAMP)
        expect_status(await patch(client, item_id, version=1, price=4000), 200, help=STALE_CHECK)
        current = item(item_id, 2, LAMP | {"price": 4000})
        for version in [1, 3, 0, -1]:
            response = await patch(client, item_id, version=version, name="Stale lamp")
            if response.status_code != 409:
                message = (
                    f"expected status 409 for version {version} (the item is at version 2), "
                    f"not {response.status_code}"
                )
                raise Failure(message, help=STALE_CHECK)
            expect_problem(response, stale(item_id), STALE_CHECK)
            seen = await stored(client, item_id)
            expect_equal("the stored item", current, seen, help=NOTHING_WRITTEN)


@pytest.mark.parametrize("first", ["alice", "bob"])
async def test_two_clients_same_version(exercise, database_url, first):
    """of two clients that read the same version, the first write wins and the other gets 409"""
    writes = {"alice": {"price": 4500}, "bob": {"name": "Lamp (bob)"}}
    second = "bob" if first == "alice" else "alice"
    async with started(exercise) as client:
        item_id = await create(client, LAMP)
        read = await stored(client, item_id)
        won = await patch(client, item_id, version=read["version"], **writes[first])
        lost = await patch(client, item_id, version=read["version"], **writes[second])
        expect_status(won, 200, help=STALE_CHECK)
        expect_problem(lost, stale(item_id), STALE_CHECK)
        expected = item(item_id, 2, LAMP | writes[first])
        expect_equal("the stored item", expected, await stored(client, item_id), help=STALE_CHECK)


async def test_write_between_read_and_update(exercise, database_url):
    """a write another client commits between the app's read and its update makes it a 409"""
    async with started(exercise) as client, another_client(database_url) as other:
        item_id = await create(client, LAMP)
        table = exercise.Item

        async def other_write() -> None:
            async with other.begin() as connection:
                await lock_timeout(other, connection)
                bump = update(table).where(table.id == item_id)
                await connection.execute(bump.values(price=5000, version=table.version + 1))

        with just_before("UPDATE", other_write) as errors:
            response = await patch(client, item_id, version=1, name="Lost update")
        if errors:
            raise Failure(
                f"expected the other client's write to succeed, not {errors[0]!r}", help=LOCKED
            )
        expect_problem(response, stale(item_id), LOST_UPDATE)
        expected = item(item_id, 2, LAMP | {"price": 5000})
        expect_equal("the stored item", expected, await stored(client, item_id), help=LOST_UPDATE)


async def test_taken_sku_on_create(exercise, database_url):
    """creating an item with a sku another item has answers 409 naming the field"""
    async with started(exercise) as client:
        lamp = await create(client, LAMP)
        response = await client.post("/items", json=CHAIR | {"sku": "LAMP-1"})
        expect_problem(response, sku_taken("/items"), SKU_CONFLICT)
        expect_equal("the stored item", item(lamp, 1, LAMP), await stored(client, lamp))
        await create(client, CHAIR)  # the app goes on working


async def test_taken_sku_on_update(exercise, database_url):
    """changing an item's sku to one another item has answers 409 and changes nothing"""
    async with started(exercise) as client:
        lamp = await create(client, LAMP)
        chair = await create(client, CHAIR)
        response = await patch(client, chair, version=1, sku="LAMP-1", price=1)
        expect_problem(response, sku_taken(f"/items/{chair}"), SKU_CONFLICT)
        expect_equal(
            "the stored item",
            item(chair, 1, CHAIR),
            await stored(client, chair),
            help=NOTHING_WRITTEN,
        )
        response = await patch(client, chair, version=1, price=11000)
        expect_status(response, 200, help=NOTHING_WRITTEN)
        expect_json(response, item(chair, 2, CHAIR | {"price": 11000}))
        expect_equal("the other item", item(lamp, 1, LAMP), await stored(client, lamp))


async def test_sku_taken_between_check_and_insert(exercise, database_url):
    """a sku another client takes just before the app's insert still answers 409"""
    async with started(exercise) as client, another_client(database_url) as other:
        table = exercise.Item

        async def other_write() -> None:
            async with other.begin() as connection:
                await connection.execute(insert(table).values(**LAMP, version=1))

        with just_before("INSERT", other_write) as errors:
            response = await client.post("/items", json=LAMP | {"name": "Second lamp"})
        expect(not errors, f"expected the other client's insert to succeed, not {errors!r}")
        expect_problem(response, sku_taken("/items"), SKU_RACE)


async def test_sku_taken_between_check_and_update(exercise, database_url):
    """a sku another client takes just before the app's update still answers 409"""
    async with started(exercise) as client, another_client(database_url) as other:
        item_id = await create(client, LAMP)
        table = exercise.Item

        async def other_write() -> None:
            async with other.begin() as connection:
                await connection.execute(insert(table).values(**CHAIR, version=1))

        with just_before("UPDATE", other_write) as errors:
            response = await patch(client, item_id, version=1, sku=CHAIR["sku"])
        expect(not errors, f"expected the other client's insert to succeed, not {errors!r}")
        expect_problem(response, sku_taken(f"/items/{item_id}"), SKU_RACE)
        expect_equal("the stored item", item(item_id, 1, LAMP), await stored(client, item_id))


async def test_stale_wins_over_taken_sku(exercise, database_url):
    """a stale patch that also takes another item's sku answers the stale-version 409"""
    async with started(exercise) as client:
        await create(client, LAMP)
        chair = await create(client, CHAIR)
        expect_status(await patch(client, chair, version=1, price=11000), 200, help=STALE_CHECK)
        response = await patch(client, chair, version=1, sku="LAMP-1")
        expect_problem(response, stale(chair), STALE_FIRST)


@pytest.mark.stub_may_pass("the model of a change is given")
async def test_patch_needs_a_version(exercise, database_url):
    """a patch without a version answers 422 and changes nothing"""
    async with started(exercise) as client:
        item_id = await create(client, LAMP)
        for change in [{"name": "No version"}, {"name": "Null version", "version": None}]:
            response = await client.patch(f"/items/{item_id}", json=change)
            expect_status(response, 422, help=STALE_CHECK)
        expect_equal("the stored item", item(item_id, 1, LAMP), await stored(client, item_id))


@pytest.mark.stub_may_pass("the lifespan is given")
async def test_database_from_the_environment(exercise, database_url):
    """the app keeps its items in the database DATABASE_URL names, and closes it at shutdown"""
    async with running(exercise.app) as (client, state):
        engine = state["engine"]
        url = engine.url.render_as_string(hide_password=False)
        expect_equal("the engine's database", database_url, url, help=DATABASE_HELP)
        await create(client, LAMP)
    closed = engine.pool.checkedin()
    expect_equal("connections left open after shutdown", 0, closed, help=DATABASE_HELP)
