"""Every snippet of lessons/17-performance.md runs and does what the page says.

Nothing here is timed. Statements are counted with ``count_statements()``, constructors with
counting wrappers, encoder and parser calls with patched counters, and the profile is read
for call counts, which do not depend on the speed of the machine. The checks that touch a
database request ``database_url``: a fresh SQLite file here, a fresh PostgreSQL database
when ``DATABASE_URL`` names a server.
"""

import cProfile
import pstats
import re
from pathlib import Path
from types import ModuleType
from typing import Any, get_args, get_origin

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from workbook.loader import load_copy
from workbook.services import count_statements
from workbook.testing import running

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "17-performance.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "17_performance"
TESTED = {"dashboard.py", "built_once.py", "serialization.py", "pages.py", "report.py"}
SIZES = (1, 10, 50)


def fresh(filename: str) -> ModuleType:
    return load_copy(SNIPPETS / filename)


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "17_performance/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


# -- a query budget -------------------------------------------------------------------------


async def seed_shop(module: ModuleType, state: dict[str, Any], rows: int) -> None:
    async with state["sessions"]() as session, session.begin():
        customers = [module.Customer(id=i, name=f"customer {i}") for i in range(1, rows + 1)]
        session.add_all(customers)
        await session.flush()
        session.add_all(
            module.Order(id=i, customer_id=i, total=100 * i) for i in range(1, rows + 1)
        )
        session.add_all(
            module.Product(id=i, name=f"product {i}", sold=i % 7) for i in range(1, rows + 1)
        )


@pytest.mark.parametrize("rows", SIZES)
async def test_the_dashboard_meets_its_budget_at_every_size(database_url: str, rows: int) -> None:
    dashboard = fresh("dashboard.py")
    async with running(dashboard.create_app(database_url)) as (client, state):
        await seed_shop(dashboard, state, rows)
        with count_statements() as statements:
            response = await client.get("/dashboard")
    assert response.status_code == 200
    body = response.json()
    assert len(body["orders"]) == min(rows, 20)
    assert body["orders"][0] == {"id": rows, "total": 100 * rows, "customer": f"customer {rows}"}
    assert len(body["top_products"]) == min(rows, 5)
    assert len(statements.sql) == dashboard.QUERY_BUDGET == 3, statements.sql


@pytest.mark.parametrize("rows", SIZES)
async def test_the_naive_dashboard_grows_with_the_orders(database_url: str, rows: int) -> None:
    dashboard = fresh("dashboard.py")
    async with running(dashboard.create_app(database_url)) as (client, state):
        await seed_shop(dashboard, state, rows)
        with count_statements() as statements:
            naive = await client.get("/dashboard/naive")
        good = await client.get("/dashboard")
    assert naive.json() == good.json()  # the same answer...
    assert len(statements.sql) == 2 + min(rows, 20)  # ...for one statement per order shown


async def test_a_forgotten_load_fails_at_once(database_url: str) -> None:
    dashboard = fresh("dashboard.py")
    async with running(dashboard.create_app(database_url)) as (_, state):
        await seed_shop(dashboard, state, 1)
        async with state["sessions"]() as session:
            order = await session.get(dashboard.Order, 1)
            with pytest.raises(Exception, match="lazy='raise'"):
                _ = order.customer


# -- built once -----------------------------------------------------------------------------


class Counting:
    """Counts the httpx.AsyncClient and TypeAdapter instances built, and the SKU compiles."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.clients = self.adapters = self.compiled = 0
        client_init, adapter_init, compile_ = (
            httpx.AsyncClient.__init__,
            TypeAdapter.__init__,
            re.compile,
        )

        def count_client(this: Any, *args: Any, **kwargs: Any) -> None:
            self.clients += 1
            client_init(this, *args, **kwargs)

        def count_adapter(this: Any, type_: Any, *args: Any, **kwargs: Any) -> None:
            # FastAPI builds adapters of its own, for Annotated[...] route fields: not these
            self.adapters += get_origin(type_) is list and get_args(type_)[0].__name__ == "Price"
            adapter_init(this, type_, *args, **kwargs)

        def count_compile(pattern: Any, *args: Any, **kwargs: Any) -> Any:
            self.compiled += pattern == SKU_PATTERN  # libraries compile their own, too
            return compile_(pattern, *args, **kwargs)

        monkeypatch.setattr(httpx.AsyncClient, "__init__", count_client)
        monkeypatch.setattr(TypeAdapter, "__init__", count_adapter)
        monkeypatch.setattr(re, "compile", count_compile)


SKU_PATTERN = r"[A-Z]{3}-\d{4}"


def prices_upstream(request: httpx.Request) -> httpx.Response:
    skus = request.url.params.get_list("sku")
    return httpx.Response(200, json=[{"sku": sku, "cents": 100} for sku in skus])


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> Counting:
    return Counting(monkeypatch)


async def test_the_shaped_app_builds_each_object_once_per_app(counting: Counting) -> None:
    module = fresh("built_once.py")  # import time: one pattern, one adapter
    assert (counting.compiled, counting.adapters) == (1, 1)
    transport = httpx.MockTransport(prices_upstream)
    for start in (1, 2):
        async with running(module.create_app(transport)) as (client, state):
            for _ in range(100):
                response = await client.get("/prices", params={"sku": "ABC-1234,nope"})
                assert response.json() == [{"sku": "ABC-1234", "cents": 100}]
            # the test's own client is one more AsyncClient; the app made one per start
            assert counting.clients == 2 * start
            assert not state["client"].is_closed
        assert state["client"].is_closed  # the app's client is closed at shutdown
    assert (counting.compiled, counting.adapters) == (1, 1)  # still: 200 requests later


async def test_the_slow_app_builds_them_per_request(counting: Counting) -> None:
    module = fresh("built_once.py")
    before = (counting.compiled, counting.adapters, counting.clients)
    async with running(module.create_slow_app(httpx.MockTransport(prices_upstream))) as (
        client,
        _,
    ):
        for _ in range(100):
            response = await client.get("/prices", params={"sku": "ABC-1234"})
            assert response.json() == [{"sku": "ABC-1234", "cents": 100}]
    assert counting.compiled - before[0] == 100  # re's cache makes these cheap, not free
    assert counting.adapters - before[1] == 100
    assert counting.clients - before[2] == 100 + 1  # one per request, and the test's own


# -- the serialization path -----------------------------------------------------------------


@pytest.fixture
def encoder_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Top-level calls of jsonable_encoder, from FastAPI's routing and from the snippet."""
    import fastapi.routing
    from fastapi.encoders import jsonable_encoder

    calls: list[Any] = []

    def counting(obj: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(obj)
        return jsonable_encoder(obj, *args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "jsonable_encoder", counting)
    return calls


def test_a_declared_return_type_never_calls_jsonable_encoder(
    encoder_calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = fresh("serialization.py")
    monkeypatch.setattr(module, "jsonable_encoder", encoder_calls.append, raising=True)
    with TestClient(module.app) as client:
        fast = client.get("/items")
    assert encoder_calls == []
    assert fast.headers["content-type"] == "application/json"
    assert fast.json()[1] == {"id": 1, "name": "item 1", "added": "2026-01-02"}


def test_no_return_type_means_jsonable_encoder_then_json_dumps(
    encoder_calls: list[Any],
) -> None:
    module = fresh("serialization.py")
    with TestClient(module.app) as client:
        fast = client.get("/items")
        untyped = client.get("/items/untyped")
        encoded = client.get("/items/encoded")
    assert len(encoder_calls) == 1  # only the untyped route; /items/encoded calls its own
    assert fast.content == untyped.content == encoded.content  # the same bytes, three ways


def test_the_fast_path_validates_once_and_dumps_json_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    for name in ("validate_python", "dump_python", "dump_json"):
        original = getattr(TypeAdapter, name)

        def counting(
            self: Any, *args: Any, _name: str = name, _f: Any = original, **kw: Any
        ) -> Any:
            calls.append(_name)
            return _f(self, *args, **kw)

        monkeypatch.setattr(TypeAdapter, name, counting)
    module = fresh("serialization.py")
    with TestClient(module.app) as client:
        calls.clear()
        client.get("/items")
    assert calls == ["validate_python", "dump_json"]
    # validation with from_attributes=True, as FastAPI calls it: an instance passes through
    validated = TypeAdapter(list[module.Item]).validate_python(module.ITEMS, from_attributes=True)
    assert validated[0] is module.ITEMS[0]


def test_a_response_class_leaves_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel

    class Thing(BaseModel):
        id: int

    calls: list[str] = []
    for name in ("dump_python", "dump_json"):
        original = getattr(TypeAdapter, name)

        def counting(
            self: Any, *args: Any, _name: str = name, _f: Any = original, **kw: Any
        ) -> Any:
            calls.append(_name)
            return _f(self, *args, **kw)

        monkeypatch.setattr(TypeAdapter, name, counting)
    app = FastAPI(default_response_class=JSONResponse)

    @app.get("/thing")
    async def thing() -> Thing:
        return Thing(id=1)

    with TestClient(app) as client:
        assert client.get("/thing").json() == {"id": 1}
    assert calls == ["dump_python"]  # then json.dumps in JSONResponse.render


def test_the_schema_stays_typed_only_on_the_fast_path() -> None:
    module = fresh("serialization.py")
    paths = module.app.openapi()["paths"]
    ok = "200"
    fast = paths["/items"]["get"]["responses"][ok]["content"]["application/json"]["schema"]
    assert fast == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Item"},
        "title": "Response List Items Items Get",
    }
    for slow in ("/items/encoded", "/items/untyped"):
        assert paths[slow]["get"]["responses"][ok]["content"]["application/json"]["schema"] == {}


# -- pages with a cap -----------------------------------------------------------------------


async def seed_events(module: ModuleType, state: dict[str, Any], rows: int) -> None:
    async with state["sessions"]() as session, session.begin():
        session.add_all(module.Event(id=i, name=f"event {i}") for i in range(1, rows + 1))


async def test_the_limit_is_capped_on_both_sides(database_url: str) -> None:
    pages = fresh("pages.py")
    async with running(pages.create_app(database_url)) as (client, state):
        await seed_events(pages, state, 150)
        at_cap = await client.get("/events", params={"limit": pages.MAX_LIMIT})
        above = await client.get("/events", params={"limit": pages.MAX_LIMIT + 1})
        zero = await client.get("/events", params={"limit": 0})
        default = await client.get("/events")
    assert len(at_cap.json()["items"]) == pages.MAX_LIMIT == 100
    assert above.status_code == zero.status_code == 422
    assert above.json()["detail"][0]["type"] == "less_than_equal"
    assert len(default.json()["items"]) == pages.DEFAULT_LIMIT


async def test_every_page_costs_one_statement_at_any_depth(database_url: str) -> None:
    pages = fresh("pages.py")
    async with running(pages.create_app(database_url)) as (client, state):
        await seed_events(pages, state, 205)
        seen: list[int] = []
        costs: list[int] = []
        texts: set[str] = set()
        after: int | None = 0
        while after is not None:
            with count_statements() as statements:
                page = (await client.get("/events", params={"after": after, "limit": 10})).json()
            costs.append(len(statements.sql))
            assert "events.id >" in statements.sql[0]  # keyset: WHERE id > the last one seen
            texts.add(statements.sql[0])
            if database_url.startswith("sqlite"):  # SQLite's LIMIT always carries an OFFSET (0)
                assert statements.sql[0].rstrip().endswith("LIMIT ? OFFSET ?")
            seen += [item["id"] for item in page["items"]]
            after = page["next_after"]
            assert page["total"] is None
        with count_statements() as statements:
            counted = (await client.get("/events", params={"include_total": "true"})).json()
    assert seen == list(range(1, 206))  # every row once, in order
    assert costs == [1] * 21  # page 1 and page 21 cost the same...
    assert len(texts) == 1  # ...and are the same statement, with another `after`
    assert counted["total"] == 205
    assert len(statements.sql) == 2


async def test_an_exact_last_page_says_there_is_no_next(database_url: str) -> None:
    pages = fresh("pages.py")
    async with running(pages.create_app(database_url)) as (client, state):
        await seed_events(pages, state, 20)
        page = (await client.get("/events")).json()
    assert len(page["items"]) == 20
    assert page["next_after"] is None


def test_max_concurrency_is_the_module_03_bulkhead() -> None:
    # the page points at module 03 for the bulkhead; here only: it is a Depends argument
    def upstream() -> int:
        return 1

    assert Depends(upstream, max_concurrency=3).max_concurrency == 3
    with pytest.raises(ValueError, match="max_concurrency"):
        Depends(upstream, max_concurrency=0)


# -- profile, then fix ----------------------------------------------------------------------


async def profile_get(app: FastAPI, path: str) -> tuple[httpx.Response, pstats.Stats]:
    # in-process and on this thread: cProfile sees only the thread that enabled it
    async with running(app) as (client, _):
        await client.get(path)  # warm up: the route, the lifespan, the first-call caches
        profiler = cProfile.Profile()
        profiler.enable()
        response = await client.get(path)
        profiler.disable()
    return response, pstats.Stats(profiler)


def calls_of(stats: pstats.Stats, function: str) -> int:
    return sum(
        primitive
        for (filename, _, name), (primitive, *_) in stats.stats.items()  # type: ignore[attr-defined]
        if name == function and filename.endswith("json/__init__.py")
    )


async def test_the_profile_counts_the_parses() -> None:
    report = fresh("report.py")
    slow, slow_stats = await profile_get(report.app, "/report/slow")
    fast, fast_stats = await profile_get(report.app, "/report")
    assert slow.json() == fast.json()
    assert slow.json()["vip_orders"] > 0
    assert calls_of(await report.profile("/report/slow"), "loads") == len(report.ORDERS) + 1
    assert calls_of(slow_stats, "loads") == len(report.ORDERS) + 1
    assert calls_of(fast_stats, "loads") == 1


def test_a_profile_on_another_thread_sees_nothing() -> None:
    report = fresh("report.py")
    with TestClient(report.app) as client:  # the app runs on the TestClient's portal thread
        profiler = cProfile.Profile()
        profiler.enable()
        client.get("/report/slow")
        profiler.disable()
    assert calls_of(pstats.Stats(profiler), "loads") == 0


def test_membership_costs_scale_with_the_list_not_the_set() -> None:
    class Key(str):
        compared = 0

        def __eq__(self, other: object) -> bool:
            Key.compared += 1
            return str.__eq__(self, other)

        __hash__ = str.__hash__

    vip = [Key(f"c{i}") for i in range(0, 2000, 7)]
    Key.compared = 0
    assert "c1996" not in vip  # a miss walks the whole list
    assert Key.compared == len(vip)
    Key.compared = 0
    assert "c1996" not in set(vip)
    assert Key.compared == 0  # no equal hash, nothing to compare
