"""Notes served through three nested yield dependencies, each torn down at its moment."""

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
    try:
        yield
    except Exception as exc:
        log.append(f"trace error: {type(exc).__name__}")
        raise  # swallowed, the handler never sees it and the client gets a 500
    finally:
        log.append("trace end")


async def connect(_: Annotated[None, Depends(trace)], log: Log) -> AsyncIterator[Connection]:
    connection = Connection()
    log.append("connect")
    try:
        yield connection
    finally:
        connection.closed = True
        log.append("disconnect")


Conn = Annotated[Connection, Depends(connect)]


async def lock_notebook(_: Conn, log: Log) -> AsyncIterator[None]:
    log.append("lock")
    try:
        yield
    finally:
        log.append("unlock")


# scope="function": released when the route returns, never held while a slow client reads
NotebookLock = Annotated[None, Depends(lock_notebook, scope="function")]

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
