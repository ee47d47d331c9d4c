"""Write the tests: override a dependency graph, and never let an override leak.

The app below is given and correct. Your job is the part underneath it: an `overrides`
fixture, and tests. The checks run your tests against this app, where every test must
pass, and then against copies of it with one bug planted in each, where at least one of
your tests must fail. Run them yourself with
`pytest exercises/03_dependency_injection/05_test_the_graph.py`.

The app's dependency graph: get_keys (the key store) and get_clock (the time) feed
get_account (the caller), which feeds require_admin; get_settings holds the trial length.
In production get_keys opens an empty store and get_clock reads the real time, so a test
overrides them to give the app keys and a fixed "now".

What the app promises (its HTTP contract):
- Every route needs an X-API-Key header naming a key in the store (get_keys) that has not
  expired: a key is valid while the clock (get_clock) reads strictly before its
  `expires`. A missing or empty header, an unknown key and an expired key all answer 401
  {"detail": "invalid or expired API key"} with the header `WWW-Authenticate: APIKey`.
- GET /me answers 200 {"name": <the account's name>, "trial_days_left": N}: the trial
  length from the settings (get_settings; 14 days unless overridden) minus the whole
  days (24-hour periods, rounded down) from the account's `joined` to the clock's time,
  and never below 0.
- GET /admin/keys is for admins: a valid key of an account that is not an admin answers
  403 {"detail": "admins only"}; an admin gets 200 {"active": N}, the number of keys in
  the store still valid at the clock's time. A request without a valid key answers the
  401 above, never the 403.
- Every rule reads the time from get_clock, the trial length from get_settings and the
  keys from get_keys: overriding one changes it for every rule.

The contract of your tests (the checks rely on it):
- `overrides` (keep this fixture) hands the test a dictionary: `overrides[dependency] =
  replacement` makes the app use the replacement for that test. When the test ends,
  passed or failed, `app.dependency_overrides` holds exactly what it held before the
  test: overrides the test added are gone, and ones it replaced or removed are back.
  So it keeps pytest's default scope, "function": set up and torn down around each test.
- `client` (keep this fixture) is an httpx.AsyncClient for `app`.
- Tests are module-level `async def test_<name>(...)` functions whose parameters are
  fixtures defined in this file (or pytest's `monkeypatch`). The checks run them in the
  order written, each with the fixtures it names, set up before it and torn down after
  it, as pytest does; they provide no other pytest fixture and run no `autouse` fixture
  and no `parametrize`.
- Write at least 5 tests, each passing on this app, and leave no override behind.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
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
def overrides() -> Overrides:
    """`app.dependency_overrides` for one test (keep this fixture)."""
    # TODO: Once the test ends, passed or failed, put back what the overrides held before it.
    return app.dependency_overrides


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A client for `app` (keep this fixture)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_me_counts_the_trial_down(overrides: Overrides, client: httpx.AsyncClient) -> None:
    given(overrides, ada=ApiKey(account=ADA, expires=NOW + DAY))
    response = await client.get("/me", headers={"X-API-Key": "ada"})
    assert response.status_code == 200
    assert response.json() == {"name": "ada", "trial_days_left": 4}


# TODO: Write more tests until every promise in the contract above is checked.
