"""A tenant dashboard: the tenant loads once per request, the clock is read at each use.

Task: share one tenant load between the route and its three panels, give every panel its
own reading of the clock, and guard the routes with an API key (every route) and the
admin role (every route of `admin_router`), each declared once.

The contract (the checks rely on it):
- `get_store()` (keep this name) is the dependency that hands out the tenant store: the
  app's own `STORE` holds `acme` (pro, 25 seats, eu) and `globex` (free, 3 seats, us).
  The checks may override it with a store of their own with the same two coroutine
  methods: `fetch(name)` (a `Tenant` or `None`; each call is one load) and `names()`.
- `get_clock()` (keep this name) is the dependency that hands out the clock, a function
  of no arguments returning seconds as a float: `time.time` for the app. The checks may
  override it with a clock that counts its readings and answers 1.0, 2.0, 3.0, ...
- `GET /dashboard` reads the tenant named by the `X-Tenant` header and answers
  `{"tenant": "acme", "panels": [{"title": "plan", "value": "pro", "as_of": ...},
  {"title": "seats", "value": 25, "as_of": ...}, {"title": "region", "value": "eu",
  "as_of": ...}]}`, the panels in that order. An unknown tenant is 404
  `{"detail": "unknown tenant"}`. Without the header it is FastAPI's 422, each error in it
  the missing-header error at `["header", "x-tenant"]` (FastAPI repeats it once per
  dependency that needs the header; how many times is not graded).
- One request loads the tenant exactly once (one `fetch`), however many dependencies use
  it; the next request loads it again (nothing is kept between requests, not even the
  news that a tenant is unknown).
- Each panel reads the clock itself: one request reads it exactly three times, and each
  panel's `as_of` is its own reading (three different values; which panel reads first
  is free).
- Every route of `app` (keep this name), including routes added later and routes of any
  router included in it, requires an `X-API-Key` header naming a key of `API_KEYS`
  (keep this name: it maps each key to its role and is read at each request, so a key
  the checks add to it, with a role of their own such as "auditor", is valid at once);
  otherwise 401 `{"detail": "invalid API key"}` with the header `WWW-Authenticate: APIKey`.
  The key is checked before anything else runs: a request without a valid key gets 401
  whatever else is wrong with it, and loads no tenant.
- Every route of `admin_router` (keep this name: an `APIRouter` served under `/admin`,
  including routes added to it later) requires a key whose role is `admin`; a valid key
  with any other role (`member`, or one the checks add) gets 403
  `{"detail": "admins only"}`. Routes outside it do not require the admin role.
  `GET /admin/tenants` answers the store's `names()`.
"""

import time
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from fastapi.security import APIKeyHeader
from pydantic import BaseModel


class Tenant(BaseModel):
    name: str
    plan: Literal["free", "pro"]
    seats: int
    region: str


class Panel(BaseModel):
    title: str
    value: str | int
    as_of: float


class Dashboard(BaseModel):
    tenant: str
    panels: list[Panel]


class TenantStore:
    """The tenants' database, in memory here: every call is one round trip."""

    def __init__(self, *tenants: Tenant) -> None:
        self._tenants = {tenant.name: tenant for tenant in tenants}

    async def fetch(self, name: str) -> Tenant | None:
        return self._tenants.get(name)

    async def names(self) -> list[str]:
        return sorted(self._tenants)


STORE = TenantStore(
    Tenant(name="acme", plan="pro", seats=25, region="eu"),
    Tenant(name="globex", plan="free", seats=3, region="us"),
)
API_KEYS = {"ada-key": "admin", "bob-key": "member"}  # API key -> role


def get_store() -> TenantStore:
    return STORE


Store = Annotated[TenantStore, Depends(get_store)]


def get_clock() -> Callable[[], float]:
    return time.time


api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


async def caller_role(key: Annotated[str | None, Depends(api_key)]) -> str:
    if key not in API_KEYS:
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "APIKey"})
    return API_KEYS[key]


async def require_admin(role: Annotated[str, Depends(caller_role)]) -> None:
    if role != "admin":
        raise HTTPException(403, "admins only")


async def fetch_tenant(store: TenantStore, name: str) -> Tenant:
    tenant = await store.fetch(name)
    if tenant is None:
        raise HTTPException(404, "unknown tenant")
    return tenant


# TODO: Turn fetch_tenant into a dependency that reads X-Tenant, with an Annotated alias.


async def read_clock(clock: Annotated[Callable[[], float], Depends(get_clock)]) -> float:
    return clock()


# TODO: Make every use of Now read the clock again.
Now = Annotated[float, Depends(read_clock)]


# TODO: Have the panels and the route take the tenant from that one dependency.
async def plan_panel(x_tenant: Annotated[str, Header()], store: Store, now: Now) -> Panel:
    tenant = await fetch_tenant(store, x_tenant)
    return Panel(title="plan", value=tenant.plan, as_of=now)


async def seats_panel(x_tenant: Annotated[str, Header()], store: Store, now: Now) -> Panel:
    tenant = await fetch_tenant(store, x_tenant)
    return Panel(title="seats", value=tenant.seats, as_of=now)


async def region_panel(x_tenant: Annotated[str, Header()], store: Store, now: Now) -> Panel:
    tenant = await fetch_tenant(store, x_tenant)
    return Panel(title="region", value=tenant.region, as_of=now)


# TODO: Require a valid API key on every route of the app, declared once.
app = FastAPI()
# TODO: Require the admin role on every route of admin_router, declared once.
admin_router = APIRouter(prefix="/admin")


@app.get("/dashboard")
async def dashboard(
    x_tenant: Annotated[str, Header()],
    store: Store,
    plan: Annotated[Panel, Depends(plan_panel)],
    seats: Annotated[Panel, Depends(seats_panel)],
    region: Annotated[Panel, Depends(region_panel)],
) -> Dashboard:
    tenant = await fetch_tenant(store, x_tenant)
    return Dashboard(tenant=tenant.name, panels=[plan, seats, region])


@admin_router.get("/tenants")
async def list_tenants(store: Store) -> list[str]:
    return await store.names()


app.include_router(admin_router)
