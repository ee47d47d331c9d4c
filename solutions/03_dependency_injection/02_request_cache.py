"""A tenant dashboard: the tenant loads once per request, the clock is read at each use."""

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


async def load_tenant(x_tenant: Annotated[str, Header()], store: Store) -> Tenant:
    tenant = await store.fetch(x_tenant)
    if tenant is None:
        raise HTTPException(404, "unknown tenant")
    return tenant


CurrentTenant = Annotated[Tenant, Depends(load_tenant)]


async def read_clock(clock: Annotated[Callable[[], float], Depends(get_clock)]) -> float:
    return clock()


# use_cache=False: every panel gets its own reading instead of the request's first one
Now = Annotated[float, Depends(read_clock, use_cache=False)]


async def plan_panel(tenant: CurrentTenant, now: Now) -> Panel:
    return Panel(title="plan", value=tenant.plan, as_of=now)


async def seats_panel(tenant: CurrentTenant, now: Now) -> Panel:
    return Panel(title="seats", value=tenant.seats, as_of=now)


async def region_panel(tenant: CurrentTenant, now: Now) -> Panel:
    return Panel(title="region", value=tenant.region, as_of=now)


app = FastAPI(dependencies=[Depends(caller_role)])
admin_router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])


@app.get("/dashboard")
async def dashboard(
    tenant: CurrentTenant,
    plan: Annotated[Panel, Depends(plan_panel)],
    seats: Annotated[Panel, Depends(seats_panel)],
    region: Annotated[Panel, Depends(region_panel)],
) -> Dashboard:
    return Dashboard(tenant=tenant.name, panels=[plan, seats, region])


@admin_router.get("/tenants")
async def list_tenants(store: Store) -> list[str]:
    return await store.names()


app.include_router(admin_router)
