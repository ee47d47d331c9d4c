"""Hidden suite for 03_dependency_injection/02_request_cache: once per request.

The store and the clock are the checks' own, put in through `get_store` and `get_clock`:
the store counts its loads, the clock its readings.  Routes that the checks add to the
app, to a router of their own and to `admin_router` prove that the guards are declared
once, on the app and on the router, rather than on each route.
"""

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from workbook.testing import (
    Failure,
    client_for,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    provide,
    response_json,
)

ADMIN = {"X-API-Key": "ada-key"}
MEMBER = {"X-API-Key": "bob-key"}
AUDITOR = {"X-API-Key": "carol-key"}  # a role of the checks' own, added to API_KEYS
ACME = {"X-Tenant": "acme"}
DASHBOARD = {
    "tenant": "acme",
    "panels": [
        {"title": "plan", "value": "pro"},
        {"title": "seats", "value": 25},
        {"title": "region", "value": "eu"},
    ],
}
UNAUTHORIZED = {"detail": "invalid API key"}
FORBIDDEN = {"detail": "admins only"}
PROBES: set[tuple[int, str]] = set()  # (id of the router or app, path) already added

LOADED_PER_USE_HELP = (
    "Is the tenant loaded by each panel, or by a function the route calls itself? Declare "
    "one dependency that loads it, and let the panels and the route depend on it: FastAPI "
    "then runs it once per request and hands every user the same value."
)
KEPT_HELP = (
    "Is the tenant kept between requests (a module-level dict, functools.cache)? FastAPI's "
    "cache lives for one request only; anything longer serves stale data."
)
KEPT_MISS_HELP = (
    "Is an unknown tenant remembered between requests? FastAPI's cache lives for one "
    "request only: a tenant created since the last request must be found."
)
CACHED_CLOCK_HELP = (
    "FastAPI runs a dependency once per request and reuses its value wherever it is "
    "declared again. Does Now ask FastAPI to run it at each use instead?"
)
APP_GUARD_HELP = (
    "Is the API key required by each route, or by one router? A route added later, or on "
    "another router, is left open: declare the dependency once, on the app."
)
ADMIN_GUARD_HELP = (
    "Is the admin role required by each admin route rather than by admin_router? A route "
    "added to the router later is left open: declare the dependency on the router."
)
ADMIN_EVERYWHERE_HELP = (
    "Is the admin role required by the whole app? Only the routes of admin_router need it."
)
DENYLIST_HELP = (
    "Does require_admin refuse members only? Let the admin role in and refuse every "
    "other role, including ones added to API_KEYS later."
)
ORDER_HELP = (
    "Does something run before the key is checked? Dependencies declared on the app run "
    "before the router's and the route's own, so an anonymous caller learns nothing."
)


@dataclass
class FakeStore:
    """The checks' tenant store: counts every load."""

    exercise: ModuleType
    tenants: dict[str, dict[str, Any]] = field(default_factory=dict)
    loads: list[str] = field(default_factory=list)

    async def fetch(self, name: str) -> Any:
        self.loads.append(name)
        data = self.tenants.get(name)
        return None if data is None else self.exercise.Tenant(**data)

    async def names(self) -> list[str]:
        return ["acme", "initech"]


@dataclass
class FakeClock:
    """The checks' clock: answers 1.0, 2.0, 3.0, ... and counts its readings."""

    readings: int = 0

    def __call__(self) -> float:
        self.readings += 1
        return float(self.readings)


@dataclass
class Fakes:
    store: FakeStore
    clock: FakeClock


@pytest.fixture
def fakes(exercise: ModuleType) -> Iterator[Fakes]:
    """Put the checks' store and clock in the app; take them out afterwards."""
    store = FakeStore(exercise)
    store.tenants["acme"] = {"name": "acme", "plan": "pro", "seats": 25, "region": "eu"}
    clock = FakeClock()
    overrides = exercise.app.dependency_overrides
    overrides[exercise.get_store] = provide(store)
    overrides[exercise.get_clock] = provide(clock)
    try:
        yield Fakes(store, clock)
    finally:
        overrides.pop(exercise.get_store, None)
        overrides.pop(exercise.get_clock, None)


@pytest.fixture
async def client(exercise: ModuleType, fakes: Fakes) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(exercise.app) as client:
        yield client


def without_times(body: Any) -> Any:
    """The dashboard without its as_of values, to compare the rest exactly."""
    if not isinstance(body, dict) or not isinstance(body.get("panels"), list):
        raise Failure(f"expected a dashboard with a list of panels, not {body!r}")
    panels = [
        {key: value for key, value in panel.items() if key != "as_of"}
        if isinstance(panel, dict)
        else panel
        for panel in body["panels"]
    ]
    return {**body, "panels": panels}


def times(body: Any) -> list[Any]:
    """The panels' as_of values, sorted."""
    without_times(body)  # fails first when the body is not a dashboard
    values = [panel.get("as_of") for panel in body["panels"] if isinstance(panel, dict)]
    return sorted(values, key=str)


@pytest.mark.stub_may_pass("the stub already builds the dashboard")
async def test_dashboard_body(client: httpx.AsyncClient) -> None:
    """GET /dashboard answers the tenant's name and its three panels, in order"""
    response = await client.get("/dashboard", headers={**MEMBER, **ACME})
    expect_status(response, 200)
    expect_equal("dashboard (without as_of)", DASHBOARD, without_times(response_json(response)))


async def test_tenant_loaded_once(client: httpx.AsyncClient, fakes: Fakes) -> None:
    """one request loads the tenant exactly once, though three panels and the route use it"""
    response = await client.get("/dashboard", headers={**MEMBER, **ACME})
    expect_status(response, 200)
    help = LOADED_PER_USE_HELP if len(fakes.store.loads) > 1 else None
    expect_equal("tenant loads in one request", ["acme"], fakes.store.loads, help=help)


async def test_tenant_loaded_again_next_request(client: httpx.AsyncClient, fakes: Fakes) -> None:
    """the next request loads the tenant again and sees its latest state"""
    first = await client.get("/dashboard", headers={**MEMBER, **ACME})
    expect_status(first, 200)
    fakes.store.tenants["acme"] = {"name": "acme", "plan": "free", "seats": 2, "region": "us"}
    second = await client.get("/dashboard", headers={**MEMBER, **ACME})
    expect_status(second, 200)
    help = KEPT_HELP if len(fakes.store.loads) < 2 else LOADED_PER_USE_HELP
    expect_equal("tenant loads in two requests", ["acme", "acme"], fakes.store.loads, help=help)
    upgraded = {
        "tenant": "acme",
        "panels": [
            {"title": "plan", "value": "free"},
            {"title": "seats", "value": 2},
            {"title": "region", "value": "us"},
        ],
    }
    expect_equal("second dashboard (without as_of)", upgraded, without_times(response_json(second)))


async def test_clock_read_per_panel(client: httpx.AsyncClient, fakes: Fakes) -> None:
    """each panel reads the clock itself: three readings, three different as_of values"""
    response = await client.get("/dashboard", headers={**MEMBER, **ACME})
    expect_status(response, 200)
    help = CACHED_CLOCK_HELP if fakes.clock.readings < 3 else None
    expect_equal("clock readings in one request", 3, fakes.clock.readings, help=help)
    expect_equal("as_of values, sorted", [1.0, 2.0, 3.0], times(response_json(response)))


async def test_clock_read_again_next_request(client: httpx.AsyncClient, fakes: Fakes) -> None:
    """the next request reads the clock three more times"""
    for _ in range(2):
        response = await client.get("/dashboard", headers={**MEMBER, **ACME})
        expect_status(response, 200)
    help = CACHED_CLOCK_HELP if fakes.clock.readings < 6 else None
    expect_equal("clock readings in two requests", 6, fakes.clock.readings, help=help)
    expect_equal("as_of values, sorted", [4.0, 5.0, 6.0], times(response_json(response)))


OWN_TENANTS = {
    "acme": [("plan", "pro"), ("seats", 25), ("region", "eu")],
    "globex": [("plan", "free"), ("seats", 3), ("region", "us")],
}


@pytest.mark.stub_may_pass("the stub's store and clock are given")
@pytest.mark.parametrize("tenant", OWN_TENANTS)
async def test_own_store_and_clock(exercise: ModuleType, tenant: str) -> None:
    """with the app's own store and clock, GET /dashboard shows {tenant}"""
    async with client_for(exercise.app) as client:
        response = await client.get("/dashboard", headers={**MEMBER, "X-Tenant": tenant})
    expect_status(response, 200)
    panels = [{"title": title, "value": value} for title, value in OWN_TENANTS[tenant]]
    expected = {"tenant": tenant, "panels": panels}
    expect_equal("dashboard (without as_of)", expected, without_times(response_json(response)))
    stamps = times(response_json(response))
    real = all(isinstance(stamp, float) and stamp > 1e9 for stamp in stamps)
    expect_equal("as_of values are time.time() readings", True, real)


@pytest.mark.stub_may_pass("the stub's store is given")
async def test_own_store_names(exercise: ModuleType) -> None:
    """with the app's own store, GET /admin/tenants lists acme and globex"""
    async with client_for(exercise.app) as client:
        response = await client.get("/admin/tenants", headers=ADMIN)
    expect_status(response, 200)
    expect_json(response, ["acme", "globex"])


@pytest.mark.stub_may_pass("the stub already answers 404 for an unknown tenant")
async def test_unknown_tenant(client: httpx.AsyncClient) -> None:
    """an unknown X-Tenant is 404 "unknown tenant" """
    response = await client.get("/dashboard", headers={**MEMBER, "X-Tenant": "umbrella"})
    expect_status(response, 404)
    expect_json(response, {"detail": "unknown tenant"})


async def test_unknown_tenant_looked_up_again(client: httpx.AsyncClient, fakes: Fakes) -> None:
    """an unknown tenant is looked up again by the next request: nothing is kept, not even
    a miss"""
    headers = {**MEMBER, "X-Tenant": "initech"}
    first = await client.get("/dashboard", headers=headers)
    expect_status(first, 404)
    fakes.store.tenants["initech"] = {
        "name": "initech",
        "plan": "free",
        "seats": 4,
        "region": "us",
    }
    second = await client.get("/dashboard", headers=headers)
    help = KEPT_MISS_HELP if second.status_code == 404 else None
    expect_status(second, 200, help=help)
    expected = {
        "tenant": "initech",
        "panels": [
            {"title": "plan", "value": "free"},
            {"title": "seats", "value": 4},
            {"title": "region", "value": "us"},
        ],
    }
    expect_equal("dashboard (without as_of)", expected, without_times(response_json(second)))
    expect_equal("tenant loads in two requests", ["initech", "initech"], fakes.store.loads)


@pytest.mark.stub_may_pass("FastAPI already refuses a request without a required header")
async def test_missing_tenant_header(client: httpx.AsyncClient) -> None:
    """a request without X-Tenant is FastAPI's 422 for a missing header"""
    response = await client.get("/dashboard", headers=MEMBER)
    expect_status(response, 422)
    body = response_json(response)
    errors = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        raise Failure(f"expected a 422 body with a list of errors, not {body!r}")
    error = {
        "type": "missing",
        "loc": ["header", "x-tenant"],
        "msg": "Field required",
        "input": None,
    }
    # FastAPI repeats the error once per dependency that needs the header: count not graded
    expect_equal("each error", [error] * len(errors), errors)


def expect_unauthorized(response: httpx.Response, help: str | None) -> None:
    expect_status(response, 401, help=help)
    expect_json(response, UNAUTHORIZED, help=help)
    expect_header(response, "www-authenticate", "APIKey")


KEYS = {"no key": {}, "an unknown key": {"X-API-Key": "eve-key"}, "an empty key": {"X-API-Key": ""}}


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("path", ["/dashboard", "/admin/tenants"])
async def test_key_required(client: httpx.AsyncClient, path: str, key: str) -> None:
    """GET {path} with {key} is 401 "invalid API key" """
    response = await client.get(path, headers={**KEYS[key], **ACME})
    expect_unauthorized(response, APP_GUARD_HELP)


@pytest.mark.parametrize(
    ("tenant", "why"),
    [({"X-Tenant": "umbrella"}, "an unknown tenant"), ({}, "no X-Tenant header")],
)
async def test_key_checked_first(
    client: httpx.AsyncClient, fakes: Fakes, tenant: dict[str, str], why: str
) -> None:
    """without a key, GET /dashboard with {why} is 401, and no tenant is loaded"""
    response = await client.get("/dashboard", headers=tenant)
    expect_unauthorized(response, ORDER_HELP if response.status_code != 200 else APP_GUARD_HELP)
    expect_equal("tenant loads", [], fakes.store.loads, help=ORDER_HELP)


@pytest.mark.stub_may_pass("the stub's admin route is open to everyone")
async def test_admin_lists_tenants(client: httpx.AsyncClient) -> None:
    """GET /admin/tenants with an admin key answers the store's names"""
    response = await client.get("/admin/tenants", headers=ADMIN)
    expect_status(response, 200)
    expect_json(response, ["acme", "initech"])


async def test_member_not_admin(client: httpx.AsyncClient) -> None:
    """GET /admin/tenants with a member's key is 403 "admins only" """
    response = await client.get("/admin/tenants", headers=MEMBER)
    expect_status(response, 403, help=ADMIN_GUARD_HELP)
    expect_json(response, FORBIDDEN)


async def test_other_role_not_admin(
    exercise: ModuleType, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /admin/tenants with a key of another role (an auditor's, added to API_KEYS) is
    403 "admins only": only the admin role opens it"""
    monkeypatch.setitem(exercise.API_KEYS, AUDITOR["X-API-Key"], "auditor")
    response = await client.get("/admin/tenants", headers=AUDITOR)
    help = DENYLIST_HELP if response.status_code == 200 else None
    expect_status(response, 403, help=help)
    expect_json(response, FORBIDDEN)


@pytest.mark.stub_may_pass("the stub's dashboard is open to everyone")
async def test_other_role_sees_dashboard(
    exercise: ModuleType, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a key of another role (an auditor's, added to API_KEYS) opens GET /dashboard"""
    monkeypatch.setitem(exercise.API_KEYS, AUDITOR["X-API-Key"], "auditor")
    response = await client.get("/dashboard", headers={**AUDITOR, **ACME})
    expect_status(response, 200)
    expect_equal("dashboard (without as_of)", DASHBOARD, without_times(response_json(response)))


@pytest.mark.stub_may_pass("the stub's dashboard is open to everyone")
async def test_admin_sees_dashboard(client: httpx.AsyncClient) -> None:
    """an admin's key opens GET /dashboard too"""
    response = await client.get("/dashboard", headers={**ADMIN, **ACME})
    expect_status(response, 200)
    expect_equal("dashboard (without as_of)", DASHBOARD, without_times(response_json(response)))


async def probe() -> dict[str, str]:
    return {"probe": "ok"}


def add_probe(router: Any, path: str) -> None:
    """Add GET `path` to a router or app once per test run (FastAPI cannot take it back)."""
    if (id(router), path) not in PROBES:
        router.add_api_route(path, probe, methods=["GET"])
        PROBES.add((id(router), path))


def probe_router(exercise: ModuleType) -> None:
    """A router of the checks' own, included in the app once, with GET /probe/router."""
    if (id(exercise.app), "/probe/router") not in PROBES:
        router = APIRouter(prefix="/probe")
        router.add_api_route("/router", probe, methods=["GET"])
        exercise.app.include_router(router)
        PROBES.add((id(exercise.app), "/probe/router"))


def add_probes(exercise: ModuleType) -> None:
    add_probe(exercise.app, "/probe/app")
    probe_router(exercise)
    add_probe(exercise.admin_router, "/probe")


OPEN_ROUTE = pytest.mark.stub_may_pass("the stub's routes are open to everyone")
ADDED = [
    ("/probe/app", "a route added to the app"),
    ("/probe/router", "a route of another router"),
    ("/admin/probe", "a route added to admin_router"),
]


@pytest.mark.parametrize(("path", "what"), ADDED, ids=[path for path, _ in ADDED])
async def test_added_route_requires_key(
    exercise: ModuleType, client: httpx.AsyncClient, path: str, what: str
) -> None:
    """GET {path} ({what}, added by the checks) requires a valid key too"""
    add_probes(exercise)
    response = await client.get(path)
    expect_unauthorized(response, APP_GUARD_HELP)


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        pytest.param("/probe/app", MEMBER, 200, marks=OPEN_ROUTE),
        pytest.param("/probe/router", MEMBER, 200, marks=OPEN_ROUTE),
        ("/admin/probe", MEMBER, 403),
        pytest.param("/admin/probe", ADMIN, 200, marks=OPEN_ROUTE),
    ],
    ids=["app-member", "router-member", "admin-member", "admin-admin"],
)
async def test_added_route_role(
    exercise: ModuleType,
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    status: int,
) -> None:
    """GET {path} (added by the checks) answers {status} to the key {headers[X-API-Key]}"""
    add_probes(exercise)
    response = await client.get(path, headers=headers)
    if status == 403:
        help = ADMIN_GUARD_HELP
    elif response.status_code == 403:
        help = ADMIN_EVERYWHERE_HELP
    else:
        help = None
    expect_status(response, status, help=help)
    expect_json(response, FORBIDDEN if status == 403 else {"probe": "ok"})
