"""Hidden suite for 14_uploads_background/05_background_tasks: work after the response.

Every check starts the app on a fresh, empty database of its own (the `database_url`
fixture: a SQLite file, or a PostgreSQL database when DATABASE_URL names a server), puts
orders in it through a connection of the checks' own, and reads the audit trail the same
way, as another client would. The app is wrapped so that a check can look at the database
the moment the last byte of the response body is sent, before any background task runs.
SQLAlchemy's events tell which session sent each statement, on which engine. A task that
fails is made to fail for real: the check drops the `audit` table before the request.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from workbook.testing import Failure, expect, expect_equal, expect_json, expect_status, running

LOGGER = "orders"
PLACED, SHIPPED, CANCELLED = 1, 2, 3
ORDERS = [
    {"id": PLACED, "item": "Lamp", "status": "placed"},
    {"id": SHIPPED, "item": "Desk", "status": "shipped"},
    {"id": CANCELLED, "item": "Chair", "status": "cancelled"},
    {"id": 4, "item": "Rug", "status": "placed"},
]

INLINE = (
    "The audit row was there before the response was sent: is it written in the endpoint? "
    "Hand the work to BackgroundTasks.add_task, which runs it once the response is sent."
)
NOT_RECORDED = (
    "No audit row was written: does the endpoint ask for a BackgroundTasks parameter and "
    "add a task that writes AuditEntry(order_id=..., action='cancelled') and commits?"
)
REQUEST_SESSION = (
    "The audit row was written through the request's session, which get_session closed "
    "before the response: does the task open a session of its own from "
    "request.state.sessions (async with sessions.begin() as session)?"
)
OTHER_ENGINE = (
    "The audit row was written through another engine than the app's: does the task use the "
    "lifespan's sessionmaker (request.state.sessions) rather than making an engine of its own?"
)
NO_CHANGE = (
    "A cancel that changed nothing recorded a cancellation: is the task added only once the "
    "order is really being cancelled, after every check? A task added earlier runs whenever "
    "the endpoint returns, even when it returns early."
)
REFUSED = (
    "A refused cancel recorded something: is the audit row written before the checks, "
    "outside the request's transaction?"
)
ESCAPED = (
    "The task's error reached the server: does the task catch Exception around its work "
    "and log it with logger.exception? The client has its answer already."
)
NOT_LOGGED = (
    "The task's error was not logged: does the task call logger.exception(...) on the "
    "module's `logger` (named 'orders') when its work fails?"
)
LEFT_OPEN = (
    "A connection was still checked out of the engine's pool after the failed task: does the "
    "task's session close even when the write fails? `async with sessions.begin()` does."
)
NOT_DISPOSED = (
    "The engine's pool still held connections after the app shut down: does the lifespan "
    "dispose of the engine (await engine.dispose()) after its yield?"
)


# the garbage collector may warn about a session a wrong app left open: the checks see the
# leak themselves (the pool's count), so the warning must not fail a later one
pytestmark = [
    pytest.mark.filterwarnings("ignore:The garbage collector is trying to clean up"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


@asynccontextmanager
async def other_client(url: str) -> AsyncIterator[AsyncConnection]:
    """A connection of the checks' own to the check's database, as another client has."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def put_orders(url: str) -> None:
    async with other_client(url) as connection:
        for order in ORDERS:
            await connection.execute(
                text("INSERT INTO orders (id, item, status) VALUES (:id, :item, :status)"), order
            )
        await connection.commit()


async def audit(url: str) -> list[dict[str, Any]]:
    """The audit trail another client sees: (order_id, action) in the order written."""
    async with other_client(url) as connection:
        result = await connection.execute(text("SELECT order_id, action FROM audit ORDER BY id"))
        return [dict(row._mapping) for row in result]


async def statuses(url: str) -> dict[int, str]:
    async with other_client(url) as connection:
        result = await connection.execute(text("SELECT id, status FROM orders"))
        return {row.id: row.status for row in result}


def cancelled(order_id: int) -> dict[str, Any]:
    return {"order_id": order_id, "action": "cancelled"}


def order_out(order_id: int, status: str) -> dict[str, Any]:
    item = next(order["item"] for order in ORDERS if order["id"] == order_id)
    return {"id": order_id, "item": item, "status": status}


def on_body_end(app: Any, hook: Callable[[], Awaitable[None]]) -> Any:
    """``app``, calling ``hook`` the moment the last part of a response body is sent."""

    async def watched(scope: Any, receive: Any, send: Any) -> None:
        async def spy(message: dict[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                await hook()

        await app(scope, receive, spy)

    return watched


@dataclass
class Sent:
    """The statements sent while a :func:`watch_sessions` block ran, and who sent each."""

    statements: list[tuple[str, Any, Any]] = field(default_factory=list)  # sql, session, engine
    owners: dict[Any, Any] = field(default_factory=dict)  # connection -> session

    def by(self, fragment: str) -> list[tuple[Any, Any]]:
        """(session, engine) of every statement whose SQL holds ``fragment``."""
        wanted = fragment.lower()
        return [(who, on) for sql, who, on in self.statements if wanted in sql.lower()]


@contextmanager
def watch_sessions() -> Iterator[Sent]:
    """Record, for each statement sent, the ORM session whose transaction sent it."""
    sent = Sent()

    def begun(session: Any, transaction: Any, connection: Any) -> None:
        sent.owners[connection] = session

    def executed(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.statements.append((" ".join(statement.split()), sent.owners.get(conn), conn.engine))

    event.listen(Session, "after_begin", begun)
    event.listen(Engine, "before_cursor_execute", executed)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", executed)
        event.remove(Session, "after_begin", begun)


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return lambda: [record for record in caplog.records if record.name == LOGGER]


async def cancel(client: Any, order_id: int) -> Any:
    return await client.post(f"/orders/{order_id}/cancel")


# -- a cancel, and its audit row after the response -----------------------------------------


@pytest.mark.stub_may_pass("the stub writes the audit row too, only too early")
async def test_cancel_is_recorded(exercise: ModuleType, database_url: str) -> None:
    """a cancel answers 200 with the order, committed, and its audit row is written"""
    async with running(exercise.app) as (client, _):
        await put_orders(database_url)
        for order_id in (PLACED, 4):
            response = await cancel(client, order_id)
            expect_status(response, 200)
            expect_json(response, order_out(order_id, "cancelled"))
        expect_equal("status of the orders", "cancelled", (await statuses(database_url))[4])
    expect_equal(
        "audit trail",
        [cancelled(PLACED), cancelled(4)],
        await audit(database_url),
        help=NOT_RECORDED,
    )


async def test_recorded_after_the_response(exercise: ModuleType, database_url: str) -> None:
    """the audit row is written after the whole response was sent, not before"""
    seen: list[list[dict[str, Any]]] = []

    async def look() -> None:
        seen.append(await audit(database_url))

    async with running(on_body_end(exercise.app, look)) as (client, _):
        await put_orders(database_url)
        response = await cancel(client, PLACED)
        expect_status(response, 200)
    expect(seen, "expected the app to send a response body")
    expect_equal("audit trail when the response was sent", [], seen[-1], help=INLINE)
    expect_equal(
        "audit trail after the task",
        [cancelled(PLACED)],
        await audit(database_url),
        help=NOT_RECORDED,
    )


async def test_task_has_a_session_of_its_own(exercise: ModuleType, database_url: str) -> None:
    """the task writes through a session of its own on the app's engine, not the request's"""
    async with running(exercise.app) as (client, state):
        await put_orders(database_url)
        with watch_sessions() as sent:
            response = await cancel(client, PLACED)
        expect_status(response, 200)
        app_engine = state["engine"].sync_engine
    updates, inserts = sent.by("UPDATE orders"), sent.by("INSERT INTO audit")
    expect(updates, "expected the cancel to send an UPDATE of the order")
    expect_equal("audit rows inserted", 1, len(inserts), help=NOT_RECORDED)
    request_session = updates[0][0]
    task_session, task_engine = inserts[0]
    expect(
        task_session is not request_session,
        "expected the task to use a session of its own",
        help=REQUEST_SESSION,
    )
    expect(
        task_engine is app_engine,
        "expected the task to write through the app's engine",
        help=OTHER_ENGINE,
    )


# -- nothing recorded when nothing was cancelled ---------------------------------------------


@pytest.mark.stub_may_pass("the stub records only real cancellations, if too early")
async def test_second_cancel_records_nothing(exercise: ModuleType, database_url: str) -> None:
    """cancelling a cancelled order answers 200 with it and records nothing more"""
    async with running(exercise.app) as (client, _):
        await put_orders(database_url)
        response = await cancel(client, CANCELLED)
        expect_status(response, 200)
        expect_json(response, order_out(CANCELLED, "cancelled"))
        expect_equal("audit trail", [], await audit(database_url), help=NO_CHANGE)
        expect_status(await cancel(client, PLACED), 200)
        response = await cancel(client, PLACED)
        expect_status(response, 200)
        expect_json(response, order_out(PLACED, "cancelled"))
    expect_equal("audit trail", [cancelled(PLACED)], await audit(database_url), help=NO_CHANGE)


@pytest.mark.stub_may_pass("the stub already refuses as the contract says")
@pytest.mark.parametrize(
    ("order_id", "status", "detail"),
    [(7, 404, "Order 7 not found."), (SHIPPED, 409, f"Order {SHIPPED} has shipped already.")],
    ids=["unknown", "shipped"],
)
async def test_refused_cancel_records_nothing(
    exercise: ModuleType, database_url: str, order_id: int, status: int, detail: str
) -> None:
    """a refused cancel (unknown 404, shipped 409) changes nothing and records nothing"""
    async with running(exercise.app) as (client, _):
        await put_orders(database_url)
        response = await cancel(client, order_id)
        expect_status(response, status)
        expect_json(response, {"detail": detail})
    expect_equal("audit trail", [], await audit(database_url), help=REFUSED)
    expect_equal("status of the shipped order", "shipped", (await statuses(database_url))[SHIPPED])


# -- a task that fails -----------------------------------------------------------------------


async def test_failing_task_stays_in_the_task(
    exercise: ModuleType, database_url: str, records: Callable[[], list[logging.LogRecord]]
) -> None:
    """a task that fails is logged on the "orders" logger; the error never reaches the server"""
    async with running(exercise.app) as (client, state):
        await put_orders(database_url)
        async with other_client(database_url) as connection:
            await connection.execute(text("DROP TABLE audit"))
            await connection.commit()
        try:
            response = await cancel(client, PLACED)
        except Exception as error:
            raise Failure(
                f"expected a failed audit write to be logged, not raised: {type(error).__name__} "
                "reached the server",
                help=ESCAPED,
            ) from None
        expect_status(response, 200)
        expect_json(response, order_out(PLACED, "cancelled"))
        expect_equal(
            "connections checked out after the task",
            0,
            state["engine"].pool.checkedout(),
            help=LEFT_OPEN,
        )
    expect_equal("status of the order", "cancelled", (await statuses(database_url))[PLACED])
    logged = [record for record in records() if record.levelno >= logging.ERROR and record.exc_info]
    expect(
        logged,
        'expected an ERROR record with the exception on the "orders" logger',
        help=NOT_LOGGED,
    )


# -- the given lifespan ----------------------------------------------------------------------


@pytest.mark.stub_may_pass("the lifespan is given")
async def test_engine_disposed_at_shutdown(exercise: ModuleType, database_url: str) -> None:
    """when the app shuts down, the engine is disposed of: its pool keeps no connection"""
    async with running(exercise.app) as (client, state):
        await put_orders(database_url)
        expect_status(await cancel(client, PLACED), 200)
        engine = state["engine"]
    expect_equal(
        "connections left in the pool after shutdown", 0, engine.pool.checkedin(), help=NOT_DISPOSED
    )
