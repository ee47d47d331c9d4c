"""Hidden suite for 17_performance/01_query_budget: GET /dashboard within QUERY_BUDGET statements.

Every check starts the app on a fresh, empty database of its own (the `database_url` fixture)
and fills the tables itself, through the engine in the app's lifespan state, with `size` rows
in each of customers, products, orders and tickets and about as many order lines.
`count_statements` counts what every engine sends while one request runs.
"""

import gc
import textwrap
import warnings
from collections import Counter
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import text

from workbook.services import count_statements
from workbook.testing import Failure, expect, expect_equal, expect_json, expect_status, running

BUDGET = 4
SIZES = (1, 10, 50)
RECENT, TOP, OPEN = 10, 5, 10

SERVER_ERROR = (
    "A 500 here often means an ORM relationship was read outside the query that loaded it, "
    "or a joined collection was read without .unique() on the result."
)
OVER_BUDGET = (
    "Each list may cost one statement, and the orders two (the orders with their customers, "
    "then the lines of all of them with their products). A count that grows with the data "
    "is a query per row: an awaited relationship, a session.get or a query in a loop. A "
    "count above the budget at every size is an extra statement per list, such as a COUNT."
)
GIVEN = (
    "The lifespan is given: sessions made with expire_on_commit=False, and the engine "
    "disposed of after the yield. Has it changed?"
)
KEEP_BUDGET = "QUERY_BUDGET is the dashboard's declared budget: keep it at 4 statements."


@pytest.fixture
def app(exercise: ModuleType) -> Any:
    return exercise.app


def customers(size: int) -> list[dict[str, Any]]:
    return [{"id": n, "name": f"Customer {n:03}"} for n in range(1, size + 1)]


def products(size: int) -> list[dict[str, Any]]:
    return [{"id": n, "name": f"Product {n:03}"} for n in range(1, size + 1)]


def orders(size: int) -> list[dict[str, Any]]:
    """Order n belongs to a customer other than n once there are several."""
    return [{"id": n, "customer_id": n * 7 % size + 1} for n in range(1, size + 1)]


def lines(size: int) -> list[dict[str, Any]]:
    """Order n has n % 3 lines (orders 3, 6, ... none).

    Once there are more than RECENT orders, the older ones buy more of other products than
    the recent ones: the top products are then not among those the recent orders show.
    """
    old = size - RECENT
    rows: list[dict[str, Any]] = []
    for order in range(1, size + 1):
        for k in range(order % 3):
            if order > old:
                product, quantity = max(old, 0) + (order + k * 3) % min(size, RECENT) + 1, 0
            else:
                product, quantity = (order * 5 + k * 3) % old + 1, 4
            rows.append(
                {
                    "id": len(rows) + 1,
                    "order_id": order,
                    "product_id": product,
                    "quantity": quantity + (order + k) % 4 + 1,
                }
            )
    return rows


def tickets(size: int) -> list[dict[str, Any]]:
    """Every third ticket is closed."""
    return [
        {"id": n, "subject": f"Ticket {n:03}", "is_open": n % 3 != 0} for n in range(1, size + 1)
    ]


def dashboard_body(size: int) -> dict[str, Any]:
    names = {product["id"]: product["name"] for product in products(size)}
    people = {customer["id"]: customer["name"] for customer in customers(size)}
    recent = sorted(orders(size), key=lambda order: -order["id"])[:RECENT]
    sold: Counter[int] = Counter()
    for line in lines(size):
        sold[line["product_id"]] += line["quantity"]
    ranked = sorted(sold, key=lambda product: (-sold[product], product))[:TOP]
    return {
        "recent_orders": [
            {
                "id": order["id"],
                "customer": {"id": order["customer_id"], "name": people[order["customer_id"]]},
                "lines": [
                    {
                        "product": {"id": line["product_id"], "name": names[line["product_id"]]},
                        "quantity": line["quantity"],
                    }
                    for line in lines(size)
                    if line["order_id"] == order["id"]
                ],
            }
            for order in recent
        ],
        "top_products": [
            {"id": product, "name": names[product], "sold": sold[product]} for product in ranked
        ],
        "open_tickets": [
            {"id": ticket["id"], "subject": ticket["subject"]}
            for ticket in tickets(size)
            if ticket["is_open"]
        ][:OPEN],
    }


TABLES = {
    "customers": (customers, "id, name", ":id, :name"),
    "products": (products, "id, name", ":id, :name"),
    "orders": (orders, "id, customer_id", ":id, :customer_id"),
    "order_lines": (
        lines,
        "id, order_id, product_id, quantity",
        ":id, :order_id, :product_id, :quantity",
    ),
    "tickets": (tickets, "id, subject, is_open", ":id, :subject, :is_open"),
}


async def fill(state: dict[str, Any], size: int) -> None:
    """Replace every table's rows with those of ``size``, as another client would."""
    expect("engine" in state, 'expected the lifespan state to hold "engine"')
    async with state["engine"].begin() as connection:
        for table in reversed(TABLES):
            await connection.execute(text(f"DELETE FROM {table}"))
        for table, (rows, columns, values) in TABLES.items():
            if rows(size):
                insert = text(f"INSERT INTO {table} ({columns}) VALUES ({values})")
                await connection.execute(insert, rows(size))


def sent(statements: Any) -> str:
    counts = Counter(" ".join(sql.split()) for sql in statements.sql)
    shown = [
        f"  {'once' if n == 1 else f'{n} times'}: {textwrap.shorten(sql, 90, placeholder=' ...')}"
        for sql, n in counts.items()
    ]
    return "the statements sent:\n" + "\n".join(shown[:8])


async def counted_dashboard(client: Any) -> tuple[Any, Any]:
    with count_statements() as statements:
        response = await client.get("/dashboard")
    help = SERVER_ERROR if response.status_code == 500 else None
    expect_status(response, 200, help=help)
    return response, statements


# -- the budget ---------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the budget is given")
def test_the_declared_budget(exercise: ModuleType):
    """QUERY_BUDGET declares 4 statements"""
    expect_equal("QUERY_BUDGET", BUDGET, getattr(exercise, "QUERY_BUDGET", None), help=KEEP_BUDGET)


@pytest.mark.parametrize("size", SIZES, ids=[f"{size}-rows" for size in SIZES])
async def test_dashboard_within_budget(app, database_url, size):
    """GET /dashboard sends at most QUERY_BUDGET statements with 1, 10 and 50 rows a table"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, size)
        response, statements = await counted_dashboard(client)
        expect_json(response, dashboard_body(size))
        if statements.count > BUDGET:
            raise Failure(
                f"expected at most {BUDGET} statements for GET /dashboard with {size} rows a "
                f"table, not {statements.count}; " + sent(statements),
                help=OVER_BUDGET,
            )


async def test_same_count_at_every_size(app, database_url):
    """the statement count is the same with 1, 10 and 50 rows a table, in one running app"""
    counts: dict[int, int] = {}
    async with running(app, raise_app_exceptions=False) as (client, state):
        for size in SIZES:
            await fill(state, size)
            response, statements = await counted_dashboard(client)
            expect_json(response, dashboard_body(size))
            counts[size] = statements.count
    expect(
        len(set(counts.values())) == 1,
        f"expected the same number of statements at every size, not {counts} (rows a table: "
        "statements)",
        help=OVER_BUDGET,
    )


# -- the answer ---------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub answers right, over budget")
async def test_empty_dashboard(app, database_url):
    """with no rows at all, each list is empty"""
    async with running(app, raise_app_exceptions=False) as (client, _):
        response, _ = await counted_dashboard(client)
        expect_json(response, {"recent_orders": [], "top_products": [], "open_tickets": []})


@pytest.mark.stub_may_pass("the stub answers right, over budget")
@pytest.mark.parametrize("size", [2, 3, 12], ids=["2-rows", "3-rows", "12-rows"])
async def test_dashboard_answer(app, database_url, size):
    """the lists, their order and their caps: 10 orders, 5 products, 10 tickets"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, size)
        response, _ = await counted_dashboard(client)
        expect_json(response, dashboard_body(size))


@pytest.mark.stub_may_pass("the stub answers right, over budget")
async def test_products_never_sold_are_not_ranked(app, database_url):
    """a product with no order line is not among the top products, even when fewer than 5 sold"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        await fill(state, 4)
        response, _ = await counted_dashboard(client)
        body = dashboard_body(4)
        expect(len(body["top_products"]) < TOP, "the data leaves some products unsold")
        expect_json(response, body)


# -- the given lifespan -------------------------------------------------------------------


@pytest.mark.stub_may_pass("the lifespan is given code")
async def test_the_given_lifespan(exercise: ModuleType, app, database_url):
    """the lifespan still works as given: values kept after a commit, the engine disposed of"""
    async with running(app) as (_, state):
        async with state["sessions"]() as session:
            ticket = exercise.Ticket(subject="Printer on fire", is_open=True)
            session.add(ticket)
            await session.commit()
            with warnings.catch_warnings(), count_statements() as statements:
                warnings.simplefilter("ignore", RuntimeWarning)  # the coroutine a reload left
                try:
                    subject = ticket.subject
                except Exception as error:
                    subject = type(error).__name__
                    gc.collect()
        expect_equal(
            "a committed ticket's subject, read with no SQL", "Printer on fire", subject, help=GIVEN
        )
        expect_equal("statements sent to read it", 0, statements.count, help=GIVEN)
        engine = state["engine"]
    expect_equal(
        "connections left in the pool after shutdown", 0, engine.pool.checkedin(), help=GIVEN
    )
