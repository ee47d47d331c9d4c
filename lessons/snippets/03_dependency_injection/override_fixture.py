from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI


async def get_now() -> datetime:
    return datetime.now(UTC)


Now = Annotated[datetime, Depends(get_now)]
app = FastAPI()  # one app for the whole test session, as when tests import it from main.py


@app.get("/greeting")
async def greeting(now: Now) -> dict[str, str]:
    return {"greeting": "good morning" if now.hour < 12 else "good afternoon"}


# --8<-- [start:fixtures]
Overrides = dict[Callable[..., Any], Callable[..., Any]]


@pytest.fixture
def overrides() -> Iterator[Overrides]:
    saved = dict(app.dependency_overrides)
    yield app.dependency_overrides
    app.dependency_overrides.clear()  # pytest runs this whether the test passed or failed
    app.dependency_overrides.update(saved)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def at(hour: int) -> Callable[[], Awaitable[datetime]]:
    async def now() -> datetime:
        return datetime(2026, 3, 1, hour, tzinfo=UTC)

    return now
    # --8<-- [end:fixtures]


# --8<-- [start:tests]
async def test_before_noon_is_morning(overrides: Overrides, client: httpx.AsyncClient) -> None:
    overrides[get_now] = at(11)
    response = await client.get("/greeting")
    assert response.json() == {"greeting": "good morning"}


async def test_noon_is_afternoon(overrides: Overrides, client: httpx.AsyncClient) -> None:
    overrides[get_now] = at(12)
    response = await client.get("/greeting")
    assert response.json() == {"greeting": "good afternoon"}


async def test_monkeypatch_undoes_it_too(
    monkeypatch: pytest.MonkeyPatch, client: httpx.AsyncClient
) -> None:
    monkeypatch.setitem(app.dependency_overrides, get_now, at(23))
    response = await client.get("/greeting")
    assert response.json() == {"greeting": "good afternoon"}
    # --8<-- [end:tests]
