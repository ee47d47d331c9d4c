"""Hidden suite for 04_error_handling/05_unit_of_work: commit on success, roll back on error."""

import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import anyio
import pytest

from workbook.testing import (
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
)

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://example.com/problems/"
SCHEMA = """
CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL);
INSERT INTO accounts VALUES ('alice', 100), ('bob', 50), ('carol', 0);
"""
START = {"alice": 100, "bob": 50, "carol": 0}
# a database error the endpoint cannot foresee: crediting bob fails, after alice was debited
BROKEN_CREDIT = """
CREATE TRIGGER broken_credit BEFORE UPDATE ON accounts WHEN NEW.id = 'bob'
BEGIN SELECT RAISE(ABORT, 'disk I/O error on page 7'); END;
"""
FOLLOW_UP = {"source": "alice", "target": "carol", "amount": 10}
AFTER_FOLLOW_UP = {"alice": 90, "bob": 50, "carol": 10}

NO_COMMIT = "Does unit_of_work commit once the endpoint has returned?"
TOO_LATE = (
    "A yield dependency's code after `yield` runs after the response is sent, unless it "
    'is declared with Depends(..., scope="function"): is the commit in time?'
)
LEFT_OVER = (
    "The next transfer ran on the same connection: was the failed request's debit still "
    "pending there, so the next request saw it or committed it? Does unit_of_work roll back "
    "when the endpoint raises?"
)
ANY_ERROR = (
    "The transfer failed with an error that is not a database error, and its debit was "
    "still pending: does unit_of_work roll back for every exception, or only for the ones "
    "it names? A bug raises what nobody listed."
)
CLOSED = (
    "Does unit_of_work close the connection? It belongs to get_connection, which may hand "
    "the same one to the next request."
)
NOT_RAISED = (
    "Does unit_of_work raise the exception again after the rollback, so that its handler "
    "(or the server) answers it?"
)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A fresh bank: alice 100, bob 50, carol 0."""
    path = tmp_path / "bank.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(SCHEMA)
    connection.close()
    return path


@pytest.fixture
def app(exercise) -> Iterator[Any]:
    """The app, with every override taken away again after the test."""
    yield exercise.app
    exercise.app.dependency_overrides.clear()


def balances(path: Path) -> dict[str, int]:
    """What another client of the database sees: only committed changes."""
    connection = sqlite3.connect(path)
    try:
        return dict(connection.execute("SELECT id, balance FROM accounts ORDER BY id"))
    finally:
        connection.close()


def break_the_credit(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.executescript(BROKEN_CREDIT)
    connection.close()


def deny_commit(action: int, arg1: Any, *args: Any) -> int:
    """An authorizer that refuses COMMIT, however it is sent: the commit itself fails."""
    if action == sqlite3.SQLITE_TRANSACTION and arg1 == "COMMIT":
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def deny_first_commit() -> Callable[..., int]:
    """An authorizer that refuses the first COMMIT only: the commits after it succeed."""
    denied = False

    def authorizer(action: int, arg1: Any, *args: Any) -> int:
        nonlocal denied
        if denied or deny_commit(action, arg1) == sqlite3.SQLITE_OK:
            return sqlite3.SQLITE_OK
        denied = True
        return sqlite3.SQLITE_DENY

    return authorizer


def buggy_rows(cursor: Any, row: Any) -> Any:
    """A row factory with a bug: reading any row raises a plain Python error."""
    raise KeyError("balance")


def fresh_connections(path: Path, *, commit_fails: bool = False) -> Callable[..., Any]:
    """A get_connection that opens a new connection per request, closing it afterwards."""

    async def get_connection() -> AsyncIterator[aiosqlite.Connection]:
        async with aiosqlite.connect(path) as connection:
            if commit_fails:
                await connection.set_authorizer(deny_commit)
            yield connection

    return get_connection


def pooled(connection: aiosqlite.Connection) -> Callable[..., Any]:
    """A get_connection that hands every request the same connection, as a pool of one."""

    async def get_connection() -> aiosqlite.Connection:
        return connection

    return get_connection


async def post(app: Any, body: dict[str, Any], *, raise_app_exceptions: bool = False) -> Any:
    async with client_for(app, lifespan=False, raise_app_exceptions=raise_app_exceptions) as client:
        return await client.post("/transfers", json=body)


def expect_balances(path: Path, expected: dict[str, int], *, help: str | None = None) -> None:
    expect_equal("committed balances", expected, balances(path), help=help)


def expect_only_the_follow_up(path: Path) -> None:
    """The failed transfer left nothing; the follow-up on the same connection was committed."""
    seen = balances(path)
    help = NO_COMMIT if seen == START else LEFT_OVER
    expect_equal("committed balances", AFTER_FOLLOW_UP, seen, help=help)


def not_found(account: str) -> dict[str, Any]:
    return {
        "type": PROBLEMS + "not-found",
        "title": "Resource not found",
        "status": 404,
        "detail": f"Account {account} does not exist.",
        "instance": "/transfers",
    }


def insufficient(account: str, balance: int) -> dict[str, Any]:
    return {
        "type": PROBLEMS + "insufficient-funds",
        "title": "Insufficient funds",
        "status": 409,
        "detail": f"Account {account} cannot cover this transfer.",
        "instance": "/transfers",
        "balance": balance,
    }


# -- success: committed, and in time -------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "after"),
    [
        (1, {"alice": 99, "bob": 51, "carol": 0}),
        (30, {"alice": 70, "bob": 80, "carol": 0}),
        (100, {"alice": 0, "bob": 150, "carol": 0}),
    ],
    ids=["one", "some", "all-of-it"],
)
async def test_transfer_is_committed(app, exercise, database, amount, after):
    """a transfer answers 201 with the transfer, and both changes are committed"""
    app.dependency_overrides[exercise.get_connection] = fresh_connections(database)
    body = {"source": "alice", "target": "bob", "amount": amount}
    response = await post(app, body)
    expect_status(response, 201)
    expect_json(response, body)
    expect_balances(database, after, help=NO_COMMIT)


async def test_commit_happens_before_the_response(app, exercise, database):
    """the transfer is committed before the response starts: a client sees it at once"""
    app.dependency_overrides[exercise.get_connection] = fresh_connections(database)
    body = json.dumps({"source": "alice", "target": "bob", "amount": 30}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/transfers",
        "raw_path": b"/transfers",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 123),
        "server": ("test", 80),
    }
    sent: list[dict[str, Any]] = []
    seen_at_start: list[dict[str, int]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen_at_start.append(balances(database))
        sent.append(message)

    with anyio.fail_after(5):
        await app(scope, receive, send)
    expect(seen_at_start, "expected the app to start a response")
    expect_equal("status", 201, sent[0].get("status"))
    after = {"alice": 70, "bob": 80, "carol": 0}
    expect_equal("balances when the response starts", after, seen_at_start[0], help=TOO_LATE)


# -- failure: rolled back, then raised again ----------------------------------------------

FAILURES = [
    (
        {"source": "dave", "target": "bob", "amount": 10},
        404,
        not_found("dave"),
    ),
    (
        {"source": "alice", "target": "bob", "amount": 101},
        409,
        insufficient("alice", 100),
    ),
    (
        {"source": "alice", "target": "erin", "amount": 30},
        404,
        not_found("erin"),
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    FAILURES,
    ids=["unknown-source", "insufficient-funds", "unknown-target"],
)
async def test_domain_error_rolls_back(app, exercise, database, body, status, problem):
    """a refused transfer answers its problem and leaves nothing, even on a reused connection"""
    async with aiosqlite.connect(database) as connection:
        app.dependency_overrides[exercise.get_connection] = pooled(connection)
        response = await post(app, body)
        expect_status(response, status, help=NOT_RAISED)
        expect_header(response, "content-type", PROBLEM_JSON)
        expect_json(response, problem, help=NOT_RAISED)
        expect_status(await post(app, FOLLOW_UP), 201, help=LEFT_OVER)
    expect_only_the_follow_up(database)


async def test_unexpected_error_rolls_back(app, exercise, database):
    """a database error after the debit answers 500 and leaves nothing, even on a reused one"""
    break_the_credit(database)
    async with aiosqlite.connect(database) as connection:
        app.dependency_overrides[exercise.get_connection] = pooled(connection)
        response = await post(app, {"source": "alice", "target": "bob", "amount": 30})
        expect_status(response, 500, help=NOT_RAISED)
        expect_status(await post(app, FOLLOW_UP), 201, help=LEFT_OVER)
    expect_only_the_follow_up(database)


async def test_any_error_rolls_back(app, exercise, database):
    """an error that is not a database error (a bug) leaves nothing either, on a reused one"""
    async with aiosqlite.connect(database) as connection:
        app.dependency_overrides[exercise.get_connection] = pooled(connection)
        connection.row_factory = buggy_rows  # the debit is written, then reading it fails
        response = await post(app, {"source": "alice", "target": "bob", "amount": 30})
        expect_status(response, 500, help=NOT_RAISED)
        connection.row_factory = None
        response = await post(app, FOLLOW_UP)
        expect_status(response, 201, help=ANY_ERROR)
    seen = balances(database)
    help = NO_COMMIT if seen == START else ANY_ERROR
    expect_equal("committed balances", AFTER_FOLLOW_UP, seen, help=help)


async def test_connection_is_left_open(app, exercise, database):
    """the connection is left to get_connection: the same one serves the next transfer too"""
    async with aiosqlite.connect(database) as connection:
        app.dependency_overrides[exercise.get_connection] = pooled(connection)
        response = await post(app, {"source": "alice", "target": "bob", "amount": 30})
        expect_status(response, 201)
        expect_status(await post(app, FOLLOW_UP), 201, help=CLOSED)
    expect_balances(database, {"alice": 60, "bob": 80, "carol": 10}, help=NO_COMMIT)


@pytest.mark.stub_may_pass("the stub lets every error through already")
async def test_unexpected_error_reaches_the_server(app, exercise, database):
    """an unexpected error goes on to the server as it was raised"""
    break_the_credit(database)
    app.dependency_overrides[exercise.get_connection] = fresh_connections(database)
    try:
        await post(
            app, {"source": "alice", "target": "bob", "amount": 30}, raise_app_exceptions=True
        )
    except sqlite3.IntegrityError as error:
        expect_equal("error", "disk I/O error on page 7", str(error), help=NOT_RAISED)
    except Exception as error:
        raise Failure(
            f"expected sqlite3.IntegrityError to reach the server, not {type(error).__name__}",
            help=NOT_RAISED,
        ) from None
    else:
        raise Failure("expected sqlite3.IntegrityError to reach the server", help=NOT_RAISED)
    expect_balances(database, START)


async def test_failed_commit_is_never_a_success(app, exercise, database):
    """a commit that fails answers 500, never 201, and nothing is stored"""
    app.dependency_overrides[exercise.get_connection] = fresh_connections(
        database, commit_fails=True
    )
    response = await post(app, {"source": "alice", "target": "bob", "amount": 30})
    expect_status(response, 500, help=TOO_LATE)
    expect_balances(database, START)


async def test_failed_commit_rolls_back(app, exercise, database):
    """a commit that fails is rolled back: the next request on the connection does not store it"""
    async with aiosqlite.connect(database) as connection:
        await connection.set_authorizer(deny_first_commit())
        app.dependency_overrides[exercise.get_connection] = pooled(connection)
        response = await post(app, {"source": "alice", "target": "bob", "amount": 30})
        expect_status(response, 500, help=TOO_LATE)
        expect_status(await post(app, FOLLOW_UP), 201, help=LEFT_OVER)
    expect_only_the_follow_up(database)


@pytest.mark.stub_may_pass("the stub lets the validation error through already")
async def test_amount_must_be_positive(app, exercise, database):
    """an amount of 0 answers FastAPI's 422 and changes nothing"""
    app.dependency_overrides[exercise.get_connection] = fresh_connections(database)
    response = await post(app, {"source": "alice", "target": "bob", "amount": 0})
    # FastAPI enters the yield dependencies first, then throws the validation error into them
    expect_status(response, 422, help=NOT_RAISED)
    expect_balances(database, START)
