"""Hidden suite for 17_performance/02_built_once: built once, not per request.

What an app builds is counted, never timed: each check replaces the module's
`create_async_engine` with a counting wrapper, wraps `httpx.AsyncClient` so that every client
the app makes is counted and talks to a fake pricing service, and counts the `TypeAdapter`s
made while the app runs. The stock table lives in a temporary SQLite file.
"""

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from workbook.testing import expect, expect_equal, expect_json, expect_status, running

REQUESTS = 100
STUB_WORKS = pytest.mark.stub_may_pass("the slow shape given in the stub answers rightly")
TIERS = [{"min_qty": 1, "cents": 1250}, {"min_qty": 10, "cents": 1100}]

ENGINE_PER_REQUEST = (
    "Is create_async_engine called inside the endpoint or a dependency? Build the engine once, "
    "in the lifespan, and hand it to requests through the lifespan state."
)
ENGINE_AT_IMPORT = (
    "Is the engine built at import time? An engine holds connections bound to an event loop: "
    "build it in the lifespan, one per app start."
)
CLIENT_PER_REQUEST = (
    "Is an httpx.AsyncClient made per request? Make one in the lifespan (async with "
    "httpx.AsyncClient(base_url=PRICING_URL) as client) and share it through the state."
)
ADAPTER_PER_REQUEST = (
    "Is TypeAdapter(list[Tier]) built inside the endpoint? A TypeAdapter compiles a validator "
    "when it is made: make it once, at import, as a module-level constant."
)
ONE_PER_START = (
    "Are the engine and the client made in the lifespan, one each per app start? Not at "
    "import (one for every start), not per request (one for every request)."
)
NOT_DISPOSED = "Does the lifespan await engine.dispose() after the yield, when the app stops?"
NOT_CLOSED = "Does the lifespan close the pricing client when the app stops (async with)?"


@dataclass
class Built:
    """What the app built while a check ran."""

    engines: list[tuple[Any, Any]] = field(default_factory=list)  # (engine, its first pool)
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    adapters: int = 0
    urls: list[str] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # paths asked of the pricing service

    def pricing(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.path)
        if request.url.path in ("/prices/ABC-1", "/prices/ZER-0"):
            return httpx.Response(200, json=TIERS)
        # an error status whose body would still validate as tiers
        return httpx.Response(503, json=[])


@pytest.fixture
def built(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Built:
    database = tmp_path / "stock.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER NOT NULL)")
        conn.executemany(
            "INSERT INTO stock VALUES (?, ?)", [("ABC-1", 7), ("ZER-0", 0), ("OLD-2", 3)]
        )
    conn.close()
    log = Built()
    real_engine = exercise.create_async_engine

    def counting_engine(url: Any, *args: Any, **kwargs: Any) -> Any:
        engine = real_engine(url, *args, **kwargs)
        log.urls.append(str(url))
        log.engines.append((engine, engine.sync_engine.pool))
        return engine

    class CountingClient(httpx.AsyncClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if "transport" in kwargs:  # the checks' own client, talking to the app
                super().__init__(*args, **kwargs)
                return
            super().__init__(*args, transport=httpx.MockTransport(log.pricing), **kwargs)
            log.clients.append(self)
            log.bases.append(str(self.base_url))

    real_init = TypeAdapter.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        log.adapters += 1
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(exercise, "DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setattr(exercise, "create_async_engine", counting_engine)
    monkeypatch.setattr(httpx, "AsyncClient", CountingClient)
    monkeypatch.setattr(TypeAdapter, "__init__", counting_init)
    return log


async def serve(exercise: ModuleType, built: Built, requests: int) -> tuple[int, int, int]:
    """Start the app, send `requests` quotes, stop it; what was built during the requests."""
    async with running(exercise.app) as (client, _):
        before = (len(built.engines), len(built.clients), built.adapters)
        for _ in range(requests):
            response = await client.get("/quotes/ABC-1")
            expect_status(response, 200)
        after = (len(built.engines), len(built.clients), built.adapters)
    return after[0] - before[0], after[1] - before[1], after[2] - before[2]


@STUB_WORKS
async def test_a_quote_joins_stock_and_prices(exercise: ModuleType, built: Built) -> None:
    async with running(exercise.app) as (client, _):
        response = await client.get("/quotes/ABC-1")
    expect_json(response, {"sku": "ABC-1", "in_stock": 7, "tiers": TIERS})
    expect_equal("paths asked of the pricing service", ["/prices/ABC-1"], built.asked)


@STUB_WORKS
async def test_a_sku_out_of_stock_is_still_quoted(exercise: ModuleType, built: Built) -> None:
    async with running(exercise.app) as (client, _):
        response = await client.get("/quotes/ZER-0")
    expect_json(
        response,
        {"sku": "ZER-0", "in_stock": 0, "tiers": TIERS},
        help="Is a qty of 0 taken for a missing row? Only None (no row) means an unknown SKU.",
    )


@STUB_WORKS
async def test_a_pricing_error_is_502(exercise: ModuleType, built: Built) -> None:
    async with running(exercise.app, raise_app_exceptions=False) as (client, _):
        response = await client.get("/quotes/OLD-2")
    expect_status(
        response,
        502,
        help="Does the endpoint check the pricing service's status (response.is_error) before "
        "reading its body? A 503 there answers 502 here.",
    )
    expect_json(response, {"detail": "Pricing unavailable"})


@STUB_WORKS
async def test_an_unknown_sku_is_404(exercise: ModuleType, built: Built) -> None:
    async with running(exercise.app) as (client, _):
        response = await client.get("/quotes/NOPE-9")
    expect_status(response, 404)
    expect_json(response, {"detail": "Unknown SKU"})
    expect_equal(
        "paths asked of the pricing service for an unknown SKU",
        [],
        built.asked,
        help="Is the stock looked up first? An SKU without a row answers 404 at once.",
    )


async def test_one_engine_per_app_start(exercise: ModuleType, built: Built) -> None:
    engines, _, _ = await serve(exercise, built, REQUESTS)
    expect_equal(f"engines built during {REQUESTS} requests", 0, engines, help=ENGINE_PER_REQUEST)
    expect_equal("engines built for one app start", 1, len(built.engines), help=ENGINE_AT_IMPORT)
    expect_equal("engine's URL", [exercise.DATABASE_URL], built.urls)


async def test_one_client_per_app_start(exercise: ModuleType, built: Built) -> None:
    _, clients, _ = await serve(exercise, built, REQUESTS)
    expect_equal(f"clients made during {REQUESTS} requests", 0, clients, help=CLIENT_PER_REQUEST)
    expect_equal("clients made for one app start", 1, len(built.clients), help=CLIENT_PER_REQUEST)
    expect_equal("client's base_url", [exercise.PRICING_URL], built.bases)


async def test_no_type_adapter_per_request(exercise: ModuleType, built: Built) -> None:
    _, _, adapters = await serve(exercise, built, REQUESTS)
    expect_equal(
        f"TypeAdapters made during {REQUESTS} requests", 0, adapters, help=ADAPTER_PER_REQUEST
    )


async def test_the_adapter_validates_the_tiers(exercise: ModuleType) -> None:
    adapter = exercise.TIERS
    expect(isinstance(adapter, TypeAdapter), "TIERS is not a pydantic TypeAdapter")
    tiers = adapter.validate_json(b'[{"min_qty": "3", "cents": 99}]')
    expect_equal("TIERS.validate_json of one tier", [exercise.Tier(min_qty=3, cents=99)], tiers)


async def test_closed_at_shutdown(exercise: ModuleType, built: Built) -> None:
    async with running(exercise.app) as (client, _):
        expect_status(await client.get("/quotes/ABC-1"), 200)
        expect(
            not any(c.is_closed for c in built.clients),
            "the pricing client was closed while the app runs",
        )
    expect(all(c.is_closed for c in built.clients), NOT_CLOSED)
    expect(all(engine.sync_engine.pool is not pool for engine, pool in built.engines), NOT_DISPOSED)


async def test_two_app_starts_build_two(exercise: ModuleType, built: Built) -> None:
    await serve(exercise, built, 3)
    await serve(exercise, built, 3)
    expect_equal("engines built for two app starts", 2, len(built.engines), help=ONE_PER_START)
    expect_equal("clients made for two app starts", 2, len(built.clients), help=ONE_PER_START)
    expect(built.engines[0][0] is not built.engines[1][0], "both starts got the same engine")
