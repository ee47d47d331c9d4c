"""Hidden suite for 17_performance/05_profile_and_fix: the same answers, at a cost that counts.

Every check starts the app on a fresh, empty database of its own (the `database_url`
fixture) and fills `categories`, `products` and `settings` itself, through the engine in the
app's lifespan state. Nothing is timed: while one request runs, the suite counts the calls
to `json.loads`, the statements every engine sends (`count_statements`), and the `==`
comparisons made with the promotion's SKUs (the patched `json.loads` hands them out as
strings that count their comparisons). SKUs are four capital letters, so that SQLite and
PostgreSQL sort them alike, in an order unlike the products' ids.
"""

import gc
import json
import textwrap
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import text

from workbook.services import count_statements
from workbook.testing import (
    Failure,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    running,
)

SIZES = (1, 10, 50)
MOST = 2
PERCENT_OFF = 15
CATEGORIES = {1: "Garden", 2: "Kitchen", 3: "Office", 4: "Toys"}

SERVER_ERROR = "The endpoint failed: the server's log shows the exception."
REPARSE = (
    "json.loads runs once for each product: the promotions are the same for all of them. "
    "Parse the blob once, before the loop, and use the parsed value inside it."
)
QUERY_PER_ROW = (
    "The count grows with the products: is there a query for each product's category? Fetch "
    "the category names with the products, in the same query (an outer join keeps the "
    "products without a category)."
)
QUADRATIC = (
    "`sku in promotions['skus']` compares the SKU with each one on sale, for every product: "
    "that is a list. Build a set of the SKUs once, then each lookup is one hash and at most "
    "one comparison."
)
ANSWER = (
    "The fix must not change the answer: every product, in SKU order, its category name or "
    "null, and the promotion's price rounded down."
)
GIVEN = (
    "The lifespan is given: sessions made with expire_on_commit=False, and the engine "
    "disposed of after the yield. Has it changed?"
)
FRESH = (
    "The promotions are read from the database on every request: is the parsed blob kept "
    "between requests (a module variable, a cache, the lifespan state)?"
)


# -- the data -----------------------------------------------------------------------------


def sku(product_id: int) -> str:
    """Four capital letters, unique for ids below 52, sorting in another order than the ids."""
    return chr(ord("A") + product_id * 7 % 26) + chr(ord("A") + product_id // 26) + "QZ"


def category_of(product_id: int) -> int | None:
    return None if product_id % 7 == 0 else product_id % 4 + 1


def price(product_id: int) -> int:
    """1001 for the first product: 1001 * 85 / 100 is 850.85, so rounding down matters."""
    return 999 + 2 * product_id


def product_row(product_id: int) -> dict[str, Any]:
    return {
        "id": product_id,
        "sku": sku(product_id),
        "name": f"Product {product_id}",
        "price_cents": price(product_id),
        "category_id": category_of(product_id),
    }


# every third product of the largest catalog is on sale, and two SKUs no product has
SALE_SKUS = [sku(n) for n in range(3, max(SIZES) + 1, 3)] + ["ZZQZ", "ZYQZ"]


def promotions(percent_off: int = PERCENT_OFF, skus: list[str] = SALE_SKUS) -> str:
    return json.dumps({"percent_off": percent_off, "skus": skus})


def expected(size: int, percent_off: int | None = PERCENT_OFF, skus: list[str] = SALE_SKUS):
    """GET /products as the contract answers it with products 1 to ``size``."""
    answer = []
    for n in range(1, size + 1):
        on_sale = percent_off is not None and sku(n) in skus
        category = category_of(n)
        answer.append(
            {
                "id": n,
                "sku": sku(n),
                "name": f"Product {n}",
                "category": None if category is None else CATEGORIES[category],
                "price_cents": price(n) * (100 - percent_off) // 100 if on_sale else price(n),
                "on_sale": on_sale,
            }
        )
    return sorted(answer, key=lambda product: product["sku"])


async def fill(state: dict[str, Any], size: int, done: int = 0) -> None:
    """Store products ``done + 1`` to ``size`` (and the categories first), newest ids first."""
    expect("engine" in state, 'expected the lifespan state to hold "engine"')
    async with state["engine"].begin() as connection:
        if done == 0:
            await connection.execute(
                text("INSERT INTO categories (id, name) VALUES (:id, :name)"),
                [{"id": id, "name": name} for id, name in CATEGORIES.items()],
            )
        rows = [product_row(n) for n in range(size, done, -1)]
        if rows:
            await connection.execute(
                text(
                    "INSERT INTO products (id, sku, name, price_cents, category_id) "
                    "VALUES (:id, :sku, :name, :price_cents, :category_id)"
                ),
                rows,
            )


async def set_promotions(state: dict[str, Any], value: str | None) -> None:
    """Store (or, with None, delete) the settings row "promotions"."""
    async with state["engine"].begin() as connection:
        await connection.execute(text("DELETE FROM settings WHERE key = 'promotions'"))
        if value is not None:
            await connection.execute(
                text("INSERT INTO settings (key, value) VALUES ('promotions', :value)"),
                {"value": value},
            )


# -- counting -----------------------------------------------------------------------------


@dataclass
class Counts:
    parses: int = 0
    comparisons: int = 0
    statements: Any = None


COUNTS: list[Counts] = []


class CountingStr(str):
    """A string from the promotions that counts each == it takes part in."""

    def __eq__(self, other: object) -> bool:
        if COUNTS:
            COUNTS[-1].comparisons += 1
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__


def counting(value: Any) -> Any:
    """The parsed value with each string in a list made a counting one."""
    if isinstance(value, dict):
        return {key: counting(item) for key, item in value.items()}
    if isinstance(value, list):
        return [CountingStr(item) if isinstance(item, str) else counting(item) for item in value]
    return value


@pytest.fixture
def app(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Any:
    real_loads = json.loads

    def loads(document: Any, *args: Any, **kwargs: Any) -> Any:
        parsed = real_loads(document, *args, **kwargs)
        if not COUNTS:
            return parsed
        COUNTS[-1].parses += 1
        return counting(parsed)

    monkeypatch.setattr(json, "loads", loads)
    return exercise.app


@contextmanager
def counted() -> Iterator[Counts]:
    counts = Counts()
    COUNTS.append(counts)
    try:
        with count_statements() as statements:
            counts.statements = statements
            yield counts
    finally:
        COUNTS.remove(counts)


async def get_products(client: Any) -> tuple[Any, Counts]:
    """GET /products: the response and what serving it cost."""
    with counted() as counts:
        response = await client.get("/products")
    expect_status(response, 200, help=SERVER_ERROR)
    return response, counts


def sent(statements: Any) -> str:
    """The statements sent, each different one once with how many times it was sent."""
    counts = Counter(" ".join(sql.split()) for sql in statements.sql)
    lines = [
        f"  {'once' if n == 1 else f'{n} times'}: {textwrap.shorten(sql, 80, placeholder=' ...')}"
        for sql, n in counts.items()
    ]
    return "the statements sent:\n" + "\n".join(lines[:8])


async def grow(client: Any, state: dict[str, Any]) -> AsyncIterator[tuple[int, Counts]]:
    """At 1, 10 and 50 products: each size with what GET /products cost, answer checked."""
    done = 0
    for size in SIZES:
        await fill(state, size, done)
        done = size
        response, counts = await get_products(client)
        expect_json(response, expected(size), help=ANSWER)
        yield size, counts


def products(size: int) -> str:
    return "1 product" if size == 1 else f"{size} products"


# -- the answer ---------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the slow endpoint of the stub answers right")
async def test_same_answer_at_every_size(app, database_url):
    """GET /products lists every product by SKU, with its category and promotion price"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await set_promotions(state, promotions())
        async for _ in grow(client, state):
            pass


@pytest.mark.stub_may_pass("the slow endpoint of the stub answers right")
async def test_no_products(app, database_url):
    """an empty products table answers [], with or without promotions"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        response, _ = await get_products(client)
        expect_json(response, [], help=ANSWER)
        await set_promotions(state, promotions())
        response, _ = await get_products(client)
        expect_json(response, [], help=ANSWER)


@pytest.mark.stub_may_pass("the slow endpoint of the stub answers right")
async def test_no_promotions_row(app, database_url):
    """without the settings row "promotions" no product is on sale"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 10)
        response, _ = await get_products(client)
        expect_json(response, expected(10, percent_off=None), help=ANSWER)


@pytest.mark.stub_may_pass("the slow endpoint of the stub answers right")
async def test_price_rounded_down(app, database_url):
    """a promotion price is rounded down: 1001 cents at 15% off is 850, not 851"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 1)
        await set_promotions(state, promotions(skus=[sku(1)]))
        response, _ = await get_products(client)
        expect_json(response, expected(1, skus=[sku(1)]), help=ANSWER)


@pytest.mark.stub_may_pass("the slow endpoint of the stub answers right")
async def test_product_without_category(app, database_url):
    """a product whose category_id is NULL is listed with "category": null"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 7)
        response, _ = await get_products(client)
        body = response.json()
        expect(
            isinstance(body, list) and len(body) == 7,
            f"expected 7 products, product 7 without a category among them, not {body!r}",
            help=ANSWER,
        )
        expect_json(response, expected(7, percent_off=None), help=ANSWER)


@pytest.mark.stub_may_pass("the slow endpoint of the stub answers right")
@pytest.mark.parametrize("percent_off", [0, 100])
async def test_percent_off_bounds(app, database_url, percent_off):
    """0% off keeps the price (still on sale); 100% off makes it 0"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 10)
        await set_promotions(state, promotions(percent_off))
        response, _ = await get_products(client)
        expect_json(response, expected(10, percent_off), help=ANSWER)


@pytest.mark.stub_may_pass("the slow endpoint of the stub answers right")
async def test_promotions_read_on_every_request(app, database_url):
    """a change to the promotions row shows on the very next request"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 10)
        await set_promotions(state, promotions())
        response, _ = await get_products(client)
        expect_json(response, expected(10), help=ANSWER)
        changed = [sku(n) for n in (2, 4, 5)]
        await set_promotions(state, promotions(40, changed))
        response, _ = await get_products(client)
        expect_json(response, expected(10, 40, changed), help=FRESH)
        await set_promotions(state, None)
        response, _ = await get_products(client)
        expect_json(response, expected(10, percent_off=None), help=FRESH)


# -- the cost -----------------------------------------------------------------------------


async def test_parsed_once_per_request(app, database_url):
    """json.loads runs at most once per request, at 1, 10 and 50 products"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await set_promotions(state, promotions())
        async for size, counts in grow(client, state):
            if counts.parses > 1:
                raise Failure(
                    f"expected at most 1 call to json.loads for GET /products with "
                    f"{products(size)}, not {counts.parses}",
                    help=REPARSE,
                )


async def test_statements_fixed(app, database_url):
    """at most 2 statements per request, the same number at 1, 10 and 50 products"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await set_promotions(state, promotions())
        seen: dict[int, int] = {}
        async for size, counts in grow(client, state):
            seen[size] = counts.statements.count
            if counts.statements.count > MOST:
                raise Failure(
                    f"expected at most {MOST} statements for GET /products with "
                    f"{products(size)}, not {counts.statements.count}; " + sent(counts.statements),
                    help=QUERY_PER_ROW,
                )
        expect(
            len(set(seen.values())) == 1,
            f"expected the same number of statements at every size, not {seen} "
            "(products: statements)",
            help=QUERY_PER_ROW,
        )


async def test_comparisons_grow_linearly(app, database_url):
    """SKU comparisons stay within one per product plus one per SKU on sale"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await set_promotions(state, promotions())
        async for size, counts in grow(client, state):
            most = size + len(SALE_SKUS)
            if counts.comparisons > most:
                raise Failure(
                    f"expected at most {most} comparisons with the promotion's SKUs for "
                    f"{products(size)} and {len(SALE_SKUS)} SKUs on sale, not "
                    f"{counts.comparisons}",
                    help=QUADRATIC,
                )


# -- the given lifespan -------------------------------------------------------------------


@pytest.mark.stub_may_pass("the lifespan is given code")
async def test_the_given_lifespan(exercise: ModuleType, app, database_url):
    """the lifespan still works as given: values kept after a commit, the engine disposed of"""
    async with running(app) as (_, state):
        async with state["sessions"]() as session:
            category = exercise.Category(name="Garden")
            session.add(category)
            await session.commit()
            with warnings.catch_warnings(), count_statements() as statements:
                warnings.simplefilter("ignore", RuntimeWarning)  # the coroutine a reload left
                try:
                    name = category.name
                except Exception as error:
                    name = type(error).__name__
                    gc.collect()
        expect_equal("a committed category's name, read with no SQL", "Garden", name, help=GIVEN)
        expect_equal("statements sent to read it", 0, statements.count, help=GIVEN)
        engine = state["engine"]
    expect_equal(
        "connections left in the pool after shutdown", 0, engine.pool.checkedin(), help=GIVEN
    )
