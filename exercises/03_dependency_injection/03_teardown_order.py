"""Notes served through three nested yield dependencies, each torn down at its moment.

Task: finish the three yield dependencies so that they clean up in the reverse order of
their set-up, also when the route fails; make `trace` record any error and pass it on;
and release the lock as soon as the route returns, while the connection stays open until
the whole body has been sent.

The contract (the checks rely on it):
- Every event is one string appended to the list that `get_log()` (keep this name) hands
  out; each dependency takes that list as a dependency (the checks override `get_log`
  with a list of their own, and add their own entries for what the app sends).
- `trace` records "trace start" on entry and "trace end" on exit, whatever happened.
  When an exception reaches it, whatever its class (an `HTTPException` too), it first
  records "trace error: <class name>" (e.g. "trace error: NoteNotFound") and then
  re-raises the same exception, so the client gets the answer of its handler: 404 for
  `NoteNotFound`, 422 for FastAPI's `RequestValidationError`, the status of an
  `HTTPException`, 500 for an error no handler knows.
- `connect` depends on `trace` and yields a new `Connection` for each request (given: it
  refuses to read with `RuntimeError` once closed); `Conn` (keep this name) is its
  `Annotated` alias. It records "connect" on entry; on exit it closes the connection
  (`closed` becomes True) and records "disconnect", also when the route failed. It exits
  after the response has been sent: the streamed body of `GET /notes` reads through the
  connection.
- `lock_notebook` depends on `connect`; it records "lock" on entry and "unlock" on exit,
  also when the route failed. It exits as soon as the route returns, before the first
  message of the response is sent.
- `NotebookLock` (keep this name) is the `Annotated` alias the routes use to hold the lock;
  a route that asks for `NotebookLock` alone opens the trace, the connection and the lock,
  in that order.
- So `GET /notes/1` logs exactly: "trace start", "connect", "lock", "unlock", then the
  response is sent, then "disconnect", "trace end". `GET /notes/99` logs "trace start",
  "connect", "lock", "unlock", "disconnect", "trace error: NoteNotFound", "trace end",
  and only then the 404 `{"detail": "note 99 not found"}` is sent.
- Routes, given: `GET /notes` streams every note as JSON Lines, `GET /notes/{note_id}`
  answers one note.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class Note(BaseModel):
    id: int
    text: str


class NoteNotFound(Exception):
    def __init__(self, note_id: int) -> None:
        super().__init__(f"note {note_id} not found")


NOTES = {
    1: Note(id=1, text="buy milk"),
    2: Note(id=2, text="call Ada"),
    3: Note(id=3, text="ship it"),
}
EVENTS: list[str] = []


class Connection:
    """A connection to the notes database (in memory here); unusable once closed."""

    def __init__(self) -> None:
        self.closed = False

    def fetch(self, note_id: int) -> Note | None:
        if self.closed:
            raise RuntimeError("the connection is closed")
        return NOTES.get(note_id)


def get_log() -> list[str]:
    return EVENTS


Log = Annotated[list[str], Depends(get_log)]


async def trace(log: Log) -> AsyncIterator[None]:
    log.append("trace start")
    yield
    # TODO: Record "trace error: <class name>" for any exception that reaches here; re-raise it.
    # TODO: Record "trace end" on the way out, whatever happened.


async def connect(_: Annotated[None, Depends(trace)], log: Log) -> AsyncIterator[Connection]:
    connection = Connection()
    log.append("connect")
    yield connection
    # TODO: Set connection.closed and record "disconnect" on the way out, also after a failure.


Conn = Annotated[Connection, Depends(connect)]


async def lock_notebook(_: Conn, log: Log) -> AsyncIterator[None]:
    log.append("lock")
    yield
    # TODO: Record "unlock" on the way out, also when the route failed.


# TODO: Release the lock as soon as the route returns, before the response is sent.
NotebookLock = Annotated[None, Depends(lock_notebook)]

app = FastAPI()


@app.exception_handler(NoteNotFound)
async def note_not_found(request: Request, exc: NoteNotFound) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


@app.get("/notes")
async def export_notes(conn: Conn, _: NotebookLock) -> AsyncIterator[Note]:
    for note_id in sorted(NOTES):  # read through the connection while the body streams
        if note := conn.fetch(note_id):
            yield note


@app.get("/notes/{note_id}")
async def read_note(note_id: int, conn: Conn, _: NotebookLock) -> Note:
    note = conn.fetch(note_id)
    if note is None:
        raise NoteNotFound(note_id)
    return note
