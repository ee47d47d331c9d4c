"""Hidden suite for 03_dependency_injection/03_teardown_order: teardown in order.

Each check drives the app through a real ASGI call whose `send` writes into the same
event log as the app's dependencies (the checks' own list, put in through `get_log`), so
the log shows where each teardown happened relative to the response: before its first
message, or after its last one.  No timers: the order is all that is compared.
"""

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from fastapi import HTTPException

from workbook.testing import Failure, expect, expect_equal, provide, serve_raw

SENT = "sent "  # the checks' own entries: what the app sent, and when
STATUS = SENT + "status {}"
CHUNK = SENT + "body chunk"
END = SENT + "end of body"
RAISED = "app raised {}"
WAIT_S = 5.0  # a hang guard only: a correct app answers at once
ENTER = ["trace start", "connect", "lock"]
NOTES = [
    {"id": 1, "text": "buy milk"},
    {"id": 2, "text": "call Ada"},
    {"id": 3, "text": "ship it"},
]
PROBE = "/probe/lock-only"
CONNECTION_PROBE = "/probe/connection"
SEEN: list[tuple[Any, bool]] = []  # what the connection probe got, and whether it was closed

ORDER_HELP = (
    "Does each dependency record its exit after its yield, inside a finally? Code after a "
    "bare yield never runs when the route fails, and the exits come in the reverse order "
    "of the entries only when each dependency depends on the one before it."
)
LOCK_HELD_HELP = (
    "Is the lock released only after the body was sent? A yield dependency exits after "
    'the response by default; one declared with scope="function" exits as soon as the '
    "route returns."
)
CLOSED_EARLY_HELP = (
    "Is the connection closed before the body was sent? The streamed body reads through "
    "it, so it must keep the default scope, which exits after the response."
)
SWALLOWED_HELP = (
    "Does trace catch the error without raising it again? Record it, then re-raise with "
    "a bare `raise`: the exception handler answers only if the error reaches it."
)
HTTP_ERROR_HELP = (
    "Does trace let HTTPException by without recording it? It records every exception "
    "that reaches it, whatever its class, and re-raises each one."
)
SHARED_HELP = (
    "Is one Connection made once and reused? connect opens a new one for each request: a "
    "connection closed by one request must never be reopened by the next."
)
NESTING_HELP = (
    "Does the lock depend on the connection, and the connection on trace? A route that "
    "asks for NotebookLock alone must open all three, in that order."
)


class Exchange:
    """One request through the app: the status, the body and the shared event log."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.status: int | None = None
        self.body = b""

    async def record(self, message: dict[str, Any]) -> None:
        """Write a message the app sent into the log, as it is sent."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.log.append(STATUS.format(message["status"]))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                self.log.append(END)
            elif self.log[-1:] != [CHUNK]:  # a run of chunks is one entry
                self.log.append(CHUNK)


async def call(app: Any, url: str, exchange: Exchange) -> None:
    """GET `url` through a real ASGI receive/send pair that records into the log."""
    sent = await serve_raw(app, url, on_send=exchange.record, guard=WAIT_S)
    if sent.raised is not None:  # a real server answers 500 and logs it
        exchange.log.append(RAISED.format(type(sent.raised).__name__))


@pytest.fixture
def exchange(exercise: ModuleType) -> Iterator[Exchange]:
    """A fresh log, given to the app through get_log; the override goes afterwards."""
    exchange = Exchange()
    overrides = exercise.app.dependency_overrides
    overrides[exercise.get_log] = provide(exchange.log)
    try:
        yield exchange
    finally:
        overrides.pop(exercise.get_log, None)


def timeline_help(log: list[str]) -> str:
    """The question that fits a wrong timeline."""
    sent = next((i for i, event in enumerate(log) if event.startswith(SENT)), len(log))
    if "unlock" in log[sent:]:
        return LOCK_HELD_HELP
    if "disconnect" in log[:sent] and STATUS.format(200) in log:
        return CLOSED_EARLY_HELP
    return ORDER_HELP


def expect_timeline(expected: list[str], exchange: Exchange, help: str | None = None) -> None:
    log = exchange.log
    expect_equal("event log", expected, log, help=help or timeline_help(log))


def expect_json_body(expected: Any, exchange: Exchange) -> None:
    try:
        body = json.loads(exchange.body)
    except ValueError:
        raise Failure(f"expected a JSON body, not {exchange.body[:200]!r}") from None
    expect_equal("body", expected, body)


async def test_read_note_timeline(exercise: ModuleType, exchange: Exchange) -> None:
    """GET /notes/1: enter trace, connection, lock; unlock before the response; the rest after"""
    await call(exercise.app, "/notes/1", exchange)
    expected = [*ENTER, "unlock", STATUS.format(200), END, "disconnect", "trace end"]
    expect_timeline(expected, exchange)
    expect_json_body(NOTES[0], exchange)


async def test_export_timeline(exercise: ModuleType, exchange: Exchange) -> None:
    """GET /notes streams: unlock before the first chunk; disconnect and trace end after the last"""
    await call(exercise.app, "/notes", exchange)
    expected = [*ENTER, "unlock", STATUS.format(200), CHUNK, END, "disconnect", "trace end"]
    expect_timeline(expected, exchange)
    lines = exchange.body.decode(errors="replace").splitlines()
    try:
        notes = [json.loads(line) for line in lines]
    except ValueError:
        raise Failure(f"expected JSON Lines, not {exchange.body[:200]!r}") from None
    expect_equal("notes streamed", NOTES, notes)


async def test_not_found_timeline(exercise: ModuleType, exchange: Exchange) -> None:
    """GET /notes/99: trace records NoteNotFound and re-raises it, so the client gets its 404"""
    await call(exercise.app, "/notes/99", exchange)
    expected = [
        *ENTER,
        "unlock",
        "disconnect",
        "trace error: NoteNotFound",
        "trace end",
        STATUS.format(404),
        END,
    ]
    help = SWALLOWED_HELP if exchange.status == 500 else None
    expect_timeline(expected, exchange, help=help)
    expect_json_body({"detail": "note 99 not found"}, exchange)


async def test_validation_error_timeline(exercise: ModuleType, exchange: Exchange) -> None:
    """GET /notes/abc: trace records FastAPI's RequestValidationError too; the client gets 422"""
    await call(exercise.app, "/notes/abc", exchange)
    expected = [
        *ENTER,
        "unlock",
        "disconnect",
        "trace error: RequestValidationError",
        "trace end",
        STATUS.format(422),
        END,
    ]
    help = SWALLOWED_HELP if exchange.status == 500 else None
    expect_timeline(expected, exchange, help=help)


def add_probe(exercise: ModuleType) -> None:
    """A route of the checks' own that asks for NotebookLock alone, added once."""
    if any(getattr(route, "path", None) == PROBE for route in exercise.app.routes):
        return

    lock = exercise.NotebookLock

    async def probe(
        _: lock,  # type: ignore[valid-type]
        fail: bool = False,
        refuse: bool = False,
    ) -> str:
        if fail:
            raise RuntimeError("boom")
        if refuse:
            raise HTTPException(409, "probe refused")
        return "ok"

    exercise.app.add_api_route(PROBE, probe, methods=["GET"])


async def test_lock_alone_opens_all(exercise: ModuleType, exchange: Exchange) -> None:
    """a route that asks for NotebookLock alone opens trace, then the connection, then the lock"""
    add_probe(exercise)
    await call(exercise.app, PROBE, exchange)
    expected = [*ENTER, "unlock", STATUS.format(200), END, "disconnect", "trace end"]
    expect_timeline(expected, exchange, help=NESTING_HELP)


async def test_unhandled_error_timeline(exercise: ModuleType, exchange: Exchange) -> None:
    """an error no handler knows passes through trace, which records it: the client gets 500"""
    add_probe(exercise)
    await call(exercise.app, f"{PROBE}?fail=true", exchange)
    expected = [
        *ENTER,
        "unlock",
        "disconnect",
        "trace error: RuntimeError",
        "trace end",
        STATUS.format(500),
        END,
        RAISED.format("RuntimeError"),
    ]
    expect_timeline(expected, exchange)


async def test_http_exception_timeline(exercise: ModuleType, exchange: Exchange) -> None:
    """an HTTPException is an error too: trace records it and re-raises it, so the client
    gets its status"""
    add_probe(exercise)
    await call(exercise.app, f"{PROBE}?refuse=true", exchange)
    expected = [
        *ENTER,
        "unlock",
        "disconnect",
        "trace error: HTTPException",
        "trace end",
        STATUS.format(409),
        END,
    ]
    help = SWALLOWED_HELP if exchange.status == 500 else None
    if help is None and "trace error: HTTPException" not in exchange.log:
        help = HTTP_ERROR_HELP
    expect_timeline(expected, exchange, help=help)
    expect_json_body({"detail": "probe refused"}, exchange)


@pytest.mark.stub_may_pass("the stub's routes are given")
@pytest.mark.parametrize("note_id", [1, 2, 3])
async def test_read_each_note(exercise: ModuleType, exchange: Exchange, note_id: int) -> None:
    """GET /notes/{note_id} answers that note"""
    await call(exercise.app, f"/notes/{note_id}", exchange)
    expect_equal("status", 200, exchange.status)
    expect_json_body(NOTES[note_id - 1], exchange)


def add_connection_probe(exercise: ModuleType) -> None:
    """A route of the checks' own that asks for Conn and notes what it got, added once."""
    if any(getattr(route, "path", None) == CONNECTION_PROBE for route in exercise.app.routes):
        return
    conn = exercise.Conn

    async def probe(connection: conn) -> str:  # type: ignore[valid-type]
        SEEN.append((connection, connection.closed))
        return "ok"

    exercise.app.add_api_route(CONNECTION_PROBE, probe, methods=["GET"])


async def test_connection_closed_after_response(exercise: ModuleType, exchange: Exchange) -> None:
    """the connection a route used is open while the route runs and closed afterwards"""
    add_connection_probe(exercise)
    SEEN.clear()
    await call(exercise.app, CONNECTION_PROBE, exchange)
    expect_equal("status", 200, exchange.status)
    if len(SEEN) != 1:
        raise Failure(f"expected the route to get one connection, not {len(SEEN)}")
    connection, closed_then = SEEN[0]
    expect_equal("connection.closed while the route ran", False, closed_then)
    expect_equal("connection.closed after the response", True, connection.closed)


async def test_each_request_gets_its_own_connection(
    exercise: ModuleType, exchange: Exchange
) -> None:
    """each request gets a new connection: the next request never reopens the last one"""
    add_connection_probe(exercise)
    SEEN.clear()
    for _ in range(2):
        await call(exercise.app, CONNECTION_PROBE, exchange)
        expect_equal("status", 200, exchange.status)
    if len(SEEN) != 2:
        raise Failure(f"expected two requests to get a connection each, not {len(SEEN)}")
    (first, _), (second, open_then) = SEEN
    expect(
        first is not second,
        "expected a new connection for the second request, not the first one again",
        help=SHARED_HELP,
    )
    expect_equal("connection.closed while the second route ran", False, open_then)
    expect_equal("first connection.closed after both requests", True, first.closed)


@pytest.mark.stub_may_pass("Connection is given")
def test_closed_connection_refuses(exercise: ModuleType) -> None:
    """a closed Connection refuses to read with RuntimeError"""
    connection = exercise.Connection()
    connection.closed = True
    try:
        connection.fetch(1)
    except RuntimeError:
        return
    raise Failure("expected RuntimeError from a closed connection, but it read")
