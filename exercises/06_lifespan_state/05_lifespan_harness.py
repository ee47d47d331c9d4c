"""Write the tests: a harness that runs the lifespan as a server does, and tests built on it.

The app below is given and correct. Your job is the part underneath it: `serve`, a
harness that runs an app's lifespan around a block of requests, and tests that use it.
The checks try `serve` on small apps of their own, then run your tests against this app,
where every test must pass, and against copies of it with one bug planted in each, where
at least one of your tests must fail. Most of the bugs live in the lifespan, so a test
can only catch them if `serve` runs it the way a server does. Run your tests yourself
with `pytest exercises/06_lifespan_state/05_lifespan_harness.py`.

What the app promises (its contract):
- `create_app(database=None)` builds a new app. Its lifespan connects `database` (a new
  `Database()` when None), then loads the notes stored in it; at shutdown it saves the
  notes back into it, then disconnects it. So a database served once logs the events
  "connected", "loaded", "saved", "disconnected", in that order. When loading fails at
  start-up, the error stops the start-up as it was raised, and the database is
  disconnected ("connected", "disconnected").
- PUT /notes/{key} with {"text": ...} keeps the note in the app's memory (until shutdown
  saves it) and answers 200 with the same {"text": ...}.
- GET /notes/{key} answers 200 {"text": ...}, or 404 {"detail": "note not found"}.
- GET /stats answers 200 {"served": N}: the requests this app has served since its
  start-up, this one included.
- Two apps never share notes or counts, even while both are running.

The contract of your code (the checks rely on it):
- `serve(app)` (keep this name) is an async context manager: `async with serve(app) as
  client:` gives an httpx.AsyncClient wired to `app`. When the block begins, the app's
  start-up has finished; when the block ends, the app shuts down cleanly (the code after
  its lifespan's yield runs), also when the block raised. Whatever the start-up, the block
  or the shutdown raised comes out of `serve` as it was raised (when both the block and
  the shutdown raise, either may come out). Each request sees a shallow copy of the
  lifespan's state, as under Uvicorn: assigning `request.state.x` in one request is not
  seen by the next, while changing an object held in the state is.
- `database` (keep this fixture): a new Database for each test (the one given holds one
  note). `client` (keep this fixture): a client from `serve` for a new app on the test's
  `database`, started before the test and shut down after it, passed or failed. Nothing
  one test writes is seen by the next.
- Tests are module-level `async def test_<name>(...)` functions whose parameters are
  fixtures defined in this file (or pytest's `monkeypatch`). The checks run them in the
  order written, each with the fixtures it names, as pytest does; they provide no other
  fixture and run no `autouse` fixture and no `parametrize`. A test may also call
  `serve(create_app(...))` itself, for example to look at its database after shutdown.
- Write at least 6 tests, each passing on this app, and leave no database connected.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, TypedDict

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel
from starlette.types import ASGIApp

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


@asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client for `app`, its lifespan running around the block (keep this name)."""
    # TODO: Run the app's lifespan around the block (asgi_lifespan.LifespanManager), and
    # shut it down cleanly after the block, even when the block raised.
    # TODO: Hand each request a shallow copy of the lifespan's state, as Uvicorn does.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


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


# TODO: Write more tests until every promise of the app's contract is checked.
