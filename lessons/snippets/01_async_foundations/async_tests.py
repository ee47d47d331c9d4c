import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel

Notify = Callable[[str], Awaitable[None]]


class Guest(BaseModel):
    name: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, list[str]]]:
    yield {"guests": []}


async def get_guests(request: Request) -> list[str]:
    return request.state.guests


async def send_email(text: str) -> None:
    raise RuntimeError("no mail server here: tests replace this dependency")


async def get_notify() -> Notify:
    return send_email


GuestsDep = Annotated[list[str], Depends(get_guests)]
NotifyDep = Annotated[Notify, Depends(get_notify)]
router = APIRouter()


@router.post("/guests", status_code=201)
async def sign(guest: Guest, guests: GuestsDep, notify: NotifyDep) -> list[str]:
    guests.append(guest.name)
    await notify(f"{guest.name} signed the guestbook")
    return guests


@router.get("/guests")
async def read_guests(guests: GuestsDep) -> list[str]:
    return guests


def create_app() -> FastAPI:
    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app


# --8<-- [start:fixtures]
@pytest.fixture
def app() -> FastAPI:
    return create_app()  # a fresh app per test: its state and overrides die with it


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:  # ASGITransport alone skips the lifespan
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
            # --8<-- [end:fixtures]


# --8<-- [start:first-test]
async def test_the_guestbook_starts_empty(client: httpx.AsyncClient) -> None:
    response = await client.get("/guests")
    assert response.status_code == 200
    assert response.json() == []
    # --8<-- [end:first-test]


# --8<-- [start:override]
def returning(value: Notify) -> Callable[[], Awaitable[Notify]]:
    async def dependency() -> Notify:  # async: an override borrows no thread either
        return value

    return dependency


async def test_signing_sends_a_notification(app: FastAPI, client: httpx.AsyncClient) -> None:
    sent: list[str] = []

    async def fake_notify(text: str) -> None:
        sent.append(text)

    app.dependency_overrides[get_notify] = returning(fake_notify)
    response = await client.post("/guests", json={"name": "Ada"})
    assert response.status_code == 201
    assert response.json() == ["Ada"]
    assert sent == ["Ada signed the guestbook"]
    # --8<-- [end:override]


# --8<-- [start:concurrency]
async def test_reads_go_on_while_a_notification_hangs(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    entered, release = anyio.Event(), anyio.Event()

    async def slow_notify(text: str) -> None:
        entered.set()
        await release.wait()  # the POST stays open until the test lets it go

    app.dependency_overrides[get_notify] = returning(slow_notify)
    with anyio.fail_after(2):  # a safety net against a hang, never a measurement
        async with asyncio.TaskGroup() as group:
            signing = group.create_task(client.post("/guests", json={"name": "Ada"}))
            await entered.wait()
            reading = await client.get("/guests")
            release.set()
    assert reading.json() == ["Ada"]
    assert signing.result().status_code == 201
    # --8<-- [end:concurrency]
