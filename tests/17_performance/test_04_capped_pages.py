"""Hidden suite for 17_performance/04_capped_pages: capped pages of one statement each.

Every check starts the app on a fresh, empty database of its own (the `database_url` fixture)
and fills the table `items` itself, through the engine in the app's lifespan state, with ids
3, 6, 9, ... (never contiguous, so that a position and an id differ). `count_statements`
counts what every engine sends while one request runs.
"""

import gc
import textwrap
import warnings
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import text

from workbook.services import count_statements
from workbook.testing import Failure, expect, expect_equal, expect_status, running

DEFAULT = 20

SERVER_ERROR = "A 500 here: read the server's traceback for the query that failed."
ONE_STATEMENT = (
    "A page is one SELECT with a LIMIT: WHERE id > after, ORDER BY id, LIMIT the clamped "
    "limit. A COUNT belongs only to include_total=true; a look-ahead or a second query is "
    "not needed, since a full page gives its last id as next_after."
)
TWO_STATEMENTS = (
    "With include_total=true, the page's SELECT and one SELECT count(*) over the whole table: "
    "two statements, whatever the page."
)
CLAMP = (
    "A limit above MAX_LIMIT is clamped to MAX_LIMIT, not refused; a limit below 1 is "
    "FastAPI's 422 (Query(ge=1))."
)
KEYSET = (
    "after is an id, not a position: the page holds the items whose id is greater, in id "
    "order, whatever was deleted before it."
)


@pytest.fixture
def app(exercise: ModuleType) -> Any:
    return exercise.app


def item(item_id: int) -> dict[str, Any]:
    return {"id": item_id, "name": f"Item {item_id:04}"}


def ids(count: int) -> list[int]:
    return [3 * n for n in range(1, count + 1)]


async def fill(state: dict[str, Any], count: int) -> None:
    expect("engine" in state, 'expected the lifespan state to hold "engine"')
    async with state["engine"].begin() as connection:
        insert = text("INSERT INTO items (id, name) VALUES (:id, :name)")
        await connection.execute(insert, [item(n) for n in ids(count)])


async def delete(state: dict[str, Any], doomed: list[int]) -> None:
    async with state["engine"].begin() as connection:
        for item_id in doomed:
            await connection.execute(text("DELETE FROM items WHERE id = :id"), {"id": item_id})


def shown(statements: Any) -> str:
    return "; ".join(
        textwrap.shorten(" ".join(sql.split()), 90, placeholder=" ...") for sql in statements.sql
    )


async def page(client: Any, query: str, statements_expected: int) -> dict[str, Any]:
    """GET /items?query: the body, after checking the number of statements it cost."""
    with count_statements() as statements:
        response = await client.get(f"/items?{query}" if query else "/items")
    expect_status(response, 200, help=SERVER_ERROR if response.status_code == 500 else None)
    if statements.count != statements_expected:
        raise Failure(
            f"expected GET /items?{query} to send exactly {statements_expected} statement(s), "
            f"not {statements.count}: {shown(statements)}",
            help=ONE_STATEMENT if statements_expected == 1 else TWO_STATEMENTS,
        )
    limited = [sql for sql in statements.sql if "count(" not in sql.lower()]
    expect(
        len(limited) == 1 and "LIMIT" in limited[0].upper(),
        f"expected the page to be read by one SELECT with a LIMIT, not: {shown(statements)}",
        help=ONE_STATEMENT,
    )
    return response.json()


def body(
    page_ids: list[int], limit: int, next_after: int | None, total: int | None = None
) -> dict[str, Any]:
    return {
        "items": [item(n) for n in page_ids],
        "limit": limit,
        "next_after": next_after,
        "total": total,
    }


def expect_page(got: dict[str, Any], expected: dict[str, Any], what: str, help: str) -> None:
    expect_equal(what, expected, got, help=help)


# -- limit: the default, the floor and the cap --------------------------------------------


async def test_empty_table(app, database_url):
    """an empty table gives no items, no next_after, in one statement (two with the total)"""
    async with running(app, raise_app_exceptions=False) as (client, _):
        expect_page(await page(client, "", 1), body([], DEFAULT, None), "the empty page", CLAMP)
        got = await page(client, "include_total=true", 2)
        expect_page(got, body([], DEFAULT, None, 0), "the empty page with its total", CLAMP)


async def test_default_limit(app, database_url):
    """without limit, a page holds DEFAULT_LIMIT (20) items and says so"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 45)
        got = await page(client, "", 1)
        expect_page(got, body(ids(20), DEFAULT, 60), "the first page by default", CLAMP)


@pytest.mark.parametrize(
    ("asked", "given"),
    [(1, 1), (99, 99), (100, 100), (101, 100), (1000, 100)],
    ids=["1", "99", "100", "101-clamped", "1000-clamped"],
)
async def test_limit_clamped_to_the_cap(app, database_url, asked, given):
    """a limit from 1 to MAX_LIMIT (100) is kept, a larger one is clamped to 100"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 120)
        got = await page(client, f"limit={asked}", 1)
        expected = body(ids(given), given, 3 * given)
        expect_page(got, expected, f"the first page with limit={asked}", CLAMP)


@pytest.mark.parametrize(
    "limit",
    [
        "0",
        "-1",
        *(
            pytest.param(value, marks=pytest.mark.stub_may_pass("an int parameter refuses it"))
            for value in ("2.5", "many", "")
        ),
    ],
)
async def test_limit_below_one_refused(app, database_url, limit):
    """a limit below 1, or not a whole number, is FastAPI's 422"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 5)
        response = await client.get(f"/items?limit={limit}")
        expect_status(response, 422, help=CLAMP)


# -- after: keyset continuation -----------------------------------------------------------


async def test_walk_every_page_at_one_statement_each(app, database_url):
    """120 items by 2: page 1 and page 60 cost one statement each, and together list all"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 120)
        seen: list[int] = []
        query = "limit=2"
        for number in range(1, 61):
            got = await page(client, query, 1)
            expected_ids = ids(120)[2 * number - 2 : 2 * number]
            expected = body(expected_ids, 2, expected_ids[-1])
            expect_page(got, expected, f"page {number} of 2 items", KEYSET)
            seen += [row["id"] for row in got["items"]]
            query = f"limit=2&after={got['next_after']}"
        expect_equal("the ids of all the pages", ids(120), seen, help=KEYSET)
        got = await page(client, query, 1)
        expect_page(got, body([], 2, None), "the page after the last full one", KEYSET)


@pytest.mark.parametrize(
    ("after", "page_ids", "next_after"),
    [
        (None, [3, 6, 9], 9),
        (0, [3, 6, 9], 9),
        (9, [12, 15, 18], 18),
        (10, [12, 15, 18], 18),
        (15, [18, 21], None),
        (21, [], None),
        (500, [], None),
    ],
    ids=["none", "0", "9", "10-not-an-id", "15-short", "21-last", "500"],
)
async def test_after_an_id(app, database_url, after, page_ids, next_after):
    """after=N starts at the first id above N; a short page ends the walk (next_after null)"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 7)
        query = "limit=3" if after is None else f"limit=3&after={after}"
        got = await page(client, query, 1)
        expect_page(got, body(page_ids, 3, next_after), f"GET /items?{query}", KEYSET)


async def test_deleted_items_do_not_shift_the_next_page(app, database_url):
    """items deleted before the place after names do not shift the page that follows"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 30)
        first = await page(client, "limit=5", 1)
        await delete(state, [3, 6, 9, 12])
        got = await page(client, f"limit=5&after={first['next_after']}", 1)
        expected = body([18, 21, 24, 27, 30], 5, 30)
        expect_page(got, expected, "the second page after deleting 4 items of the first", KEYSET)


async def test_after_zero_and_below(app, database_url):
    """after=0 and a negative after are places like any other: ids 0 and below come first"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        async with state["engine"].begin() as connection:
            insert = text("INSERT INTO items (id, name) VALUES (:id, :name)")
            await connection.execute(insert, [item(n) for n in (-6, -3, 0, 3, 6)])
        got = await page(client, "limit=3", 1)
        expect_page(got, body([-6, -3, 0], 3, 0), "GET /items?limit=3", KEYSET)
        got = await page(client, "limit=3&after=0", 1)
        expect_page(got, body([3, 6], 3, None), "GET /items?limit=3&after=0", KEYSET)
        got = await page(client, "limit=3&after=-4", 1)
        expect_page(got, body([-3, 0, 3], 3, 3), "GET /items?limit=3&after=-4", KEYSET)


# -- include_total ------------------------------------------------------------------------


@pytest.mark.parametrize("after", [None, 150], ids=["page-1", "deep-page"])
async def test_total_on_request(app, database_url, after):
    """include_total=true adds the count of the whole table, in exactly two statements"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 60)
        query = "limit=4&include_total=true" + ("" if after is None else f"&after={after}")
        got = await page(client, query, 2)
        start = 0 if after is None else after // 3
        expected = body(ids(60)[start : start + 4], 4, ids(60)[start + 3], 60)
        expect_page(got, expected, f"GET /items?{query}", TWO_STATEMENTS)


@pytest.mark.parametrize("flag", ["", "&include_total=false"], ids=["left-out", "false"])
async def test_no_total_unless_asked(app, database_url, flag):
    """without include_total=true, total is null and the page costs one statement"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 60)
        got = await page(client, f"limit=4&after=30{flag}", 1)
        expected = body([33, 36, 39, 42], 4, 42)
        expect_page(got, expected, f"GET /items?limit=4&after=30{flag}", ONE_STATEMENT)


# -- the given lifespan -------------------------------------------------------------------


GIVEN = (
    "The lifespan is given: sessions made with expire_on_commit=False, and the engine "
    "disposed of after the yield. Has it changed?"
)


@pytest.mark.stub_may_pass("the lifespan is given code")
async def test_the_given_lifespan(exercise: ModuleType, app, database_url):
    """the lifespan still works as given: values kept after a commit, the engine disposed of"""
    async with running(app) as (_, state):
        async with state["sessions"]() as session:
            row = exercise.Item(id=7, name="Lamp")
            session.add(row)
            await session.commit()
            with warnings.catch_warnings(), count_statements() as statements:
                warnings.simplefilter("ignore", RuntimeWarning)  # the coroutine a reload left
                try:
                    name = row.name
                except Exception as error:
                    name = type(error).__name__
                    gc.collect()
        expect_equal("a committed item's name, read with no SQL", "Lamp", name, help=GIVEN)
        expect_equal("statements sent to read it", 0, statements.count, help=GIVEN)
        engine = state["engine"]
    expect_equal(
        "connections left in the pool after shutdown", 0, engine.pool.checkedin(), help=GIVEN
    )
