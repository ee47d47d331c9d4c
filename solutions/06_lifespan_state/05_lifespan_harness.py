"""A notes app (given), a harness that serves it as Uvicorn would, and tests built on it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, TypedDict

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

# --- the database driver (given: do not edit) -----------------------------------------


class Database:
    """A fake database: rows in memory, usable only while connected; `events` logs its calls."""

    def __init__(self, rows: dict[str, str] | None = None) -> None:
        self.rows = dict(rows or {})
        self.connected = False
        self.events: list[str] = []

    async def connect(self) -> None:
        self.connected = True
        self.events.append("connected")

    async def disconnect(self) -> None:
        self.connected = False
        self.events.append("disconnected")

    async def load(self) -> dict[str, str]:
        self._check()
        self.events.append("loaded")
        return dict(self.rows)

    async def save(self, rows: dict[str, str]) -> None:
        self._check()
        self.events.append("saved")
        self.rows = dict(rows)

    def _check(self) -> None:
        if not self.connected:
            raise RuntimeError("the database is not connected")


# --- the app under test (given: do not edit) ------------------------------------------


class Note(BaseModel):
    text: str


@dataclass
class Stats:
    served: int = 0


class State(TypedDict):
    notes: dict[str, str]
    stats: Stats


async def count_request(request: Request) -> None:
    request.state.stats.served += 1


async def get_notes(request: Request) -> dict[str, str]:
    return request.state.notes


NotesDep = Annotated[dict[str, str], Depends(get_notes)]
router = APIRouter()


@router.get("/notes/{key}")
async def read_note(key: str, notes: NotesDep) -> Note:
    if key not in notes:
        raise HTTPException(404, "note not found")
    return Note(text=notes[key])


@router.put("/notes/{key}")
async def write_note(key: str, note: Note, notes: NotesDep) -> Note:
    notes[key] = note.text
    return note


@router.get("/stats")
async def read_stats(request: Request) -> Stats:
    return request.state.stats


def create_app(database: Database | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        db = database or Database()
        await db.connect()
        try:
            notes = await db.load()
            yield {"notes": notes, "stats": Stats()}
            await db.save(notes)
        finally:
            await db.disconnect()

    app = FastAPI(lifespan=lifespan, dependencies=[Depends(count_request)])
    app.include_router(router)
    return app


# --- the tests ------------------------------------------------------------------------


def copy_state_per_request(app: ASGIApp) -> ASGIApp:
    """Hand each request a shallow copy of the lifespan's state, as Uvicorn does."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            scope = {**scope, "state": scope["state"].copy()}
        await app(scope, receive, send)

    return wrapped


@asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client for `app`, its lifespan running around the block (keep this name)."""
    manager = LifespanManager(copy_state_per_request(app))
    await manager.__aenter__()
    try:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        # `async with LifespanManager` cancels the lifespan when the block raises: a server
        # shuts down cleanly whatever happened, so the checks see what production sees
        await manager.__aexit__(None, None, None)


class BrokenDatabase(Database):
    async def load(self) -> dict[str, str]:
        raise RuntimeError("the disk is on fire")


@pytest.fixture
def database() -> Database:
    """The database of the test's app, holding one note (keep this fixture)."""
    return Database({"welcome": "hello"})


@pytest.fixture
async def client(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client for a new app on the test's own database (keep this fixture)."""
    async with serve(create_app(database)) as client:
        yield client


async def test_notes_are_written_and_read(client: httpx.AsyncClient) -> None:
    response = await client.put("/notes/todo", json={"text": "buy milk"})
    assert response.status_code == 200
    assert response.json() == {"text": "buy milk"}
    response = await client.get("/notes/todo")
    assert response.status_code == 200
    assert response.json() == {"text": "buy milk"}


async def test_unknown_note_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/notes/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "note not found"}


async def test_notes_are_loaded_at_startup(client: httpx.AsyncClient) -> None:
    response = await client.get("/notes/welcome")
    assert response.json() == {"text": "hello"}


async def test_notes_are_saved_then_disconnected(database: Database) -> None:
    async with serve(create_app(database)) as client:
        await client.put("/notes/todo", json={"text": "buy milk"})
        assert database.events == ["connected", "loaded"]
    assert database.rows == {"welcome": "hello", "todo": "buy milk"}
    assert database.events == ["connected", "loaded", "saved", "disconnected"]


async def test_every_request_is_counted(client: httpx.AsyncClient) -> None:
    assert (await client.get("/stats")).json() == {"served": 1}
    await client.get("/notes/welcome")
    await client.get("/notes/nope")
    assert (await client.get("/stats")).json() == {"served": 4}


async def test_apps_share_nothing() -> None:
    async with serve(create_app()) as first, serve(create_app()) as second:
        await first.put("/notes/todo", json={"text": "buy milk"})
        assert (await second.get("/notes/todo")).status_code == 404
        assert (await second.get("/stats")).json() == {"served": 2}


async def test_failed_load_stops_startup_and_disconnects() -> None:
    broken = BrokenDatabase()
    with pytest.raises(RuntimeError, match="the disk is on fire"):
        async with serve(create_app(broken)):
            pass
    assert broken.events == ["connected", "disconnected"]
