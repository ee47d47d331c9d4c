"""A small dependency graph (given) and the tests that pin it down through overrides."""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel

# --- the app under test (given: do not edit) ------------------------------------------


class Settings(BaseModel):
    trial_days: int = 14


class Account(BaseModel):
    name: str
    joined: datetime
    admin: bool = False


class ApiKey(BaseModel):
    account: Account
    expires: datetime


class KeyStore:
    """API keys by their secret: a database table in production, a dict in tests."""

    def __init__(self, keys: dict[str, ApiKey]) -> None:
        self.keys = keys

    async def find(self, secret: str) -> ApiKey | None:
        return self.keys.get(secret)

    async def all(self) -> list[ApiKey]:
        return list(self.keys.values())


async def get_settings() -> Settings:
    return Settings()


async def get_clock() -> datetime:
    return datetime.now(UTC)


async def get_keys() -> KeyStore:
    return KeyStore({})  # production opens the database here


SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_clock)]
KeysDep = Annotated[KeyStore, Depends(get_keys)]


async def get_account(
    keys: KeysDep, now: NowDep, x_api_key: Annotated[str | None, Header()] = None
) -> Account:
    key = await keys.find(x_api_key) if x_api_key else None
    if key is None or now >= key.expires:
        raise HTTPException(401, "invalid or expired API key", {"WWW-Authenticate": "APIKey"})
    return key.account


AccountDep = Annotated[Account, Depends(get_account)]


async def require_admin(account: AccountDep) -> None:
    if not account.admin:
        raise HTTPException(403, "admins only")


app = FastAPI()


@app.get("/me")
async def me(account: AccountDep, settings: SettingsDep, now: NowDep) -> dict[str, Any]:
    left = settings.trial_days - (now - account.joined).days
    return {"name": account.name, "trial_days_left": max(left, 0)}


@app.get("/admin/keys", dependencies=[Depends(require_admin)])
async def count_keys(keys: KeysDep, now: NowDep) -> dict[str, int]:
    return {"active": sum(now < key.expires for key in await keys.all())}


# --- the tests ------------------------------------------------------------------------

NOW = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ADA = Account(name="ada", joined=NOW - 10 * DAY)
ROOT = Account(name="root", joined=NOW - 400 * DAY, admin=True)
UNAUTHORIZED = {"detail": "invalid or expired API key"}
Overrides = dict[Callable[..., Any], Callable[..., Any]]


def returning(value: Any) -> Callable[[], Awaitable[Any]]:
    """A replacement dependency that hands out `value`."""

    async def dependency() -> Any:
        return value

    return dependency


def given(overrides: Overrides, now: datetime = NOW, **keys: ApiKey) -> None:
    """The clock reads `now`; the key store holds `keys`, by secret."""
    overrides[get_clock] = returning(now)
    overrides[get_keys] = returning(KeyStore(keys))


@pytest.fixture
def overrides() -> Iterator[Overrides]:
    """`app.dependency_overrides` for one test, put back as it was (keep this fixture)."""
    saved = dict(app.dependency_overrides)
    yield app.dependency_overrides
    app.dependency_overrides.clear()  # pytest runs this whether the test passed or failed
    app.dependency_overrides.update(saved)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A client for `app` (keep this fixture)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def expect_401(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["www-authenticate"] == "APIKey"


async def test_me_counts_the_trial_down(overrides: Overrides, client: httpx.AsyncClient) -> None:
    given(overrides, ada=ApiKey(account=ADA, expires=NOW + DAY))
    response = await client.get("/me", headers={"X-API-Key": "ada"})
    assert response.status_code == 200
    assert response.json() == {"name": "ada", "trial_days_left": 4}


async def test_trial_length_comes_from_settings(
    overrides: Overrides, client: httpx.AsyncClient
) -> None:
    given(overrides, ada=ApiKey(account=ADA, expires=NOW + DAY))
    overrides[get_settings] = returning(Settings(trial_days=30))
    response = await client.get("/me", headers={"X-API-Key": "ada"})
    assert response.json() == {"name": "ada", "trial_days_left": 20}


async def test_trial_counts_whole_days(overrides: Overrides, client: httpx.AsyncClient) -> None:
    # 9 days and 23 hours ago: ten calendar days, but only nine whole days
    late = Account(name="late", joined=NOW - 10 * DAY + timedelta(hours=1))
    given(overrides, late=ApiKey(account=late, expires=NOW + DAY))
    response = await client.get("/me", headers={"X-API-Key": "late"})
    assert response.json() == {"name": "late", "trial_days_left": 5}


async def test_trial_ends_at_zero(overrides: Overrides, client: httpx.AsyncClient) -> None:
    cases = {13: 1, 14: 0, 15: 0}  # days since joining: trial days left
    members = {f"d{days}": Account(name=f"d{days}", joined=NOW - days * DAY) for days in cases}
    given(
        overrides,
        **{key: ApiKey(account=member, expires=NOW + DAY) for key, member in members.items()},
    )
    for days, left in cases.items():
        response = await client.get("/me", headers={"X-API-Key": f"d{days}"})
        assert response.json() == {"name": f"d{days}", "trial_days_left": left}


async def test_missing_key_is_401(overrides: Overrides, client: httpx.AsyncClient) -> None:
    given(overrides, ada=ApiKey(account=ADA, expires=NOW + DAY))
    expect_401(await client.get("/me"))


async def test_unknown_key_is_401(overrides: Overrides, client: httpx.AsyncClient) -> None:
    given(overrides, ada=ApiKey(account=ADA, expires=NOW + DAY))
    expect_401(await client.get("/me", headers={"X-API-Key": "eve"}))


async def test_key_expires_at_its_instant(overrides: Overrides, client: httpx.AsyncClient) -> None:
    # the clock is years ahead of the real time: a check against the real time accepts both
    given(
        overrides,
        ending=ApiKey(account=ADA, expires=NOW),
        lasting=ApiKey(account=ADA, expires=NOW + timedelta(microseconds=1)),
    )
    expect_401(await client.get("/me", headers={"X-API-Key": "ending"}))
    response = await client.get("/me", headers={"X-API-Key": "lasting"})
    assert response.status_code == 200


async def test_admin_counts_active_keys(overrides: Overrides, client: httpx.AsyncClient) -> None:
    given(
        overrides,
        root=ApiKey(account=ROOT, expires=NOW + DAY),
        ada=ApiKey(account=ADA, expires=NOW + timedelta(microseconds=1)),
        ending=ApiKey(account=ADA, expires=NOW),
        old=ApiKey(account=ADA, expires=NOW - DAY),
    )
    response = await client.get("/admin/keys", headers={"X-API-Key": "root"})
    assert response.status_code == 200
    assert response.json() == {"active": 2}


async def test_admin_route_needs_an_admin(overrides: Overrides, client: httpx.AsyncClient) -> None:
    given(overrides, ada=ApiKey(account=ADA, expires=NOW + DAY))
    response = await client.get("/admin/keys", headers={"X-API-Key": "ada"})
    assert response.status_code == 403
    assert response.json() == {"detail": "admins only"}


async def test_admin_route_needs_a_key_first(
    overrides: Overrides, client: httpx.AsyncClient
) -> None:
    given(overrides, root=ApiKey(account=ROOT, expires=NOW + DAY))
    expect_401(await client.get("/admin/keys"))


async def test_admin_overridden_as_a_whole(overrides: Overrides, client: httpx.AsyncClient) -> None:
    # overriding a node of the graph skips what it depends on: no key needed here
    given(overrides, one=ApiKey(account=ADA, expires=NOW + DAY))
    overrides[get_account] = returning(ROOT)
    response = await client.get("/admin/keys")
    assert response.json() == {"active": 1}
