"""Hidden suite for 09_async_sqlalchemy/01_session_per_request: one session per request.

Every check starts the app on a fresh, empty database of its own (the `database_url`
fixture: a SQLite file, or a PostgreSQL database when DATABASE_URL names a server) and
reads what was committed through an engine of its own on that URL, as another client
would. A few checks add probe routes to the app that ask for the learner's `SessionDep`.
"""

import gc
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from workbook.services import count_statements
from workbook.testing import (
    Failure,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    running,
)

WAIT_S = 5.0  # a hang guard only: both probe requests arrive at once
PROBE_SESSION = "/probe/session"
PROBE_FAIL = "/probe/fail"
LAMP = {"name": "Lamp", "price": 1500}
DESK = {"name": "Desk", "price": 9000}
CHAIR = {"name": "Chair", "price": 2500}

NOT_STORED = (
    "Nothing was committed: does get_session commit the session once the endpoint has "
    "returned? Opening it with `async with sessions.begin()` around the yield commits then."
)
TOO_LATE = (
    "A yield dependency's code after `yield` runs after the response is sent, unless it is "
    'declared with Depends(get_session, scope="function"): is SessionDep declared so?'
)
LEFT_OVER = (
    "Part of a refused batch was kept: is the session committed even when the endpoint "
    "raised (a commit in `finally`, say)? Commit only when it returned; roll back otherwise."
)
NOT_RAISED = (
    "Does get_session raise the exception again after the rollback, so that the server gets "
    "it as it was raised?"
)
SHARED = (
    "Two requests at once got the same session: is one session made once (in the lifespan, "
    "say) and handed to every request? get_session makes a new one for each request."
)
TWO_SESSIONS = (
    "get_product and the endpoint got different sessions, so the endpoint cannot delete "
    "the product get_product loaded: does every dependency ask for SessionDep? FastAPI "
    "reuses a dependency within a request only for the same function and the same scope."
)
OPEN = (
    "A connection was still checked out of the engine's pool after the request: is the "
    "session closed when the request is done? `async with` around the yield closes it."
)
EXPIRED = (
    "Reading a committed product's attribute went back to the database, which async code "
    "cannot do lazily: are the sessions made with expire_on_commit=False?"
)
NOT_DISPOSED = (
    "The engine's pool still held connections after the app shut down: does the lifespan "
    "dispose of the engine (await engine.dispose()) after its yield?"
)
STATE_HELP = (
    'Does the lifespan yield its state as a dict with the keys "engine" (the AsyncEngine) '
    'and "sessions" (the async_sessionmaker)?'
)
WRONG_DATABASE = (
    "The rows are not in the database DATABASE_URL names: does the lifespan create the "
    "engine from os.environ.get('DATABASE_URL', DEFAULT_DATABASE_URL) when the app starts?"
)


# a session never closed leaves its connection to the garbage collector, which warns: the
# checks see the leak themselves (the pool's count), so the warning must not fail a later one
pytestmark = [
    pytest.mark.filterwarnings("ignore:The garbage collector is trying to clean up"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


class ProbeError(Exception):
    """What the failing probe route raises: an error no handler knows."""


class Probe:
    """What the probe routes saw: the sessions they were given, and a gate for two at once."""

    def __init__(self) -> None:
        self.sessions: list[Any] = []
        self.expected = 1
        self.all_here = anyio.Event()


PROBE = Probe()


def add_probes(exercise: ModuleType) -> None:
    """Routes of the checks' own that ask for the learner's SessionDep (added once)."""
    app: FastAPI = exercise.app
    if any(getattr(route, "path", None) == PROBE_SESSION for route in app.routes):
        return
    session_dep = exercise.SessionDep

    async def probe_session(session: session_dep) -> dict[str, int]:  # type: ignore[valid-type]
        PROBE.sessions.append(session)
        if len(PROBE.sessions) >= PROBE.expected:
            PROBE.all_here.set()
        with anyio.fail_after(WAIT_S):
            await PROBE.all_here.wait()
        return {"seen": len(PROBE.sessions)}

    async def probe_fail(session: session_dep) -> None:  # type: ignore[valid-type]
        session.add(exercise.Product(name="Ghost", price=1))
        await session.flush()
        raise ProbeError("the probe route failed after writing")

    app.add_api_route(PROBE_SESSION, probe_session, methods=["GET"])
    app.add_api_route(PROBE_FAIL, probe_fail, methods=["POST"])


@pytest.fixture
def app(exercise: ModuleType) -> FastAPI:
    global PROBE
    PROBE = Probe()
    add_probes(exercise)
    return exercise.app


@asynccontextmanager
async def other_client(url: str) -> AsyncIterator[AsyncConnection]:
    """A connection of the checks' own to the check's database, as another client has."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def committed(url: str) -> list[dict[str, Any]]:
    """The products another client sees: only what was committed."""
    async with other_client(url) as connection:
        result = await connection.execute(text("SELECT id, name, price FROM products ORDER BY id"))
        return [dict(row._mapping) for row in result]


async def names(url: str) -> list[str]:
    return [row["name"] for row in await committed(url)]


def from_state(state: dict[str, Any], key: str) -> Any:
    expect(key in state, f"expected the lifespan state to hold {key!r}", help=STATE_HELP)
    return state[key]


def checked_out(state: dict[str, Any]) -> int:
    return from_state(state, "engine").pool.checkedout()


def on_response_start(app: Any, hook: Callable[[], Awaitable[None]]) -> Any:
    """``app``, calling ``hook`` the moment a response starts, before the client gets it."""

    async def watched(scope: Any, receive: Any, send: Any) -> None:
        async def spy(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                await hook()
            await send(message)

        await app(scope, receive, spy)

    return watched


async def add(client: Any, *products: dict[str, Any]) -> list[dict[str, Any]]:
    """POST one batch that must be accepted; the products as the app answered them."""
    response = await client.post("/products", json=list(products))
    expect_status(response, 201)
    return response.json()


def by_id(row: dict[str, Any]) -> int:
    return row["id"]


def with_ids(added: list[dict[str, Any]], *products: dict[str, Any]) -> list[dict[str, Any]]:
    """The products as sent, with the ids the app gave them."""
    return [{**product, "id": row.get("id")} for product, row in zip(products, added, strict=True)]


# -- committed: stored, in the right database, in time -----------------------------------


async def test_batch_is_stored(app, database_url):
    """a batch answers 201 with the products added, committed in the database DATABASE_URL names"""
    async with running(app) as (client, state):
        response = await client.post("/products", json=[])
        expect_status(response, 201)
        expect_json(response, [])
        response = await client.post("/products", json=[LAMP, DESK, CHAIR])
        expect_status(response, 201)
        added = response.json()
        expect(
            isinstance(added, list) and len(added) == 3,
            f"expected a list of the 3 products added, not {added!r}",
        )
        expect_json(response, with_ids(added, LAMP, DESK, CHAIR))
        ids = [row["id"] for row in added]
        expect(len(set(ids)) == 3, f"expected 3 different ids, not {ids}")
        engine_url = from_state(state, "engine").url
    help = NOT_STORED if engine_url.database == make_url(database_url).database else WRONG_DATABASE
    expect_equal(
        "committed products", sorted(added, key=by_id), await committed(database_url), help=help
    )


async def test_committed_before_the_response(app, database_url):
    """the batch is committed before the response starts: a client sees it at once"""
    seen_at_start: list[list[str]] = []

    async def look() -> None:
        seen_at_start.append(await names(database_url))

    async with running(on_response_start(app, look)) as (client, _):
        await add(client, LAMP, DESK)
    expect(seen_at_start, "expected the app to start a response")
    help = TOO_LATE if await names(database_url) else NOT_STORED
    expect_equal(
        "products committed when the response starts",
        ["Lamp", "Desk"],
        seen_at_start[-1],
        help=help,
    )


# -- refused or failed: nothing kept, the error goes on ----------------------------------


@pytest.mark.parametrize(
    ("batch", "taken"),
    [
        ([CHAIR, DESK, LAMP], "Lamp"),
        ([CHAIR, DESK, CHAIR], "Chair"),
        ([LAMP, CHAIR], "Lamp"),
    ],
    ids=["taken-in-the-database", "taken-earlier-in-the-batch", "taken-first"],
)
async def test_refused_batch_leaves_nothing(app, database_url, batch, taken):
    """a batch with a taken name answers 409 and keeps none of its products"""
    async with running(app) as (client, _):
        await add(client, LAMP)
        expect_equal("committed products", ["Lamp"], await names(database_url), help=NOT_STORED)
        response = await client.post("/products", json=batch)
        expect_status(response, 409)
        expect_json(response, {"detail": f"A product named {taken!r} exists already."})
        expect_equal("committed products", ["Lamp"], await names(database_url), help=LEFT_OVER)
        await add(client, DESK)
    expect_equal("committed products", ["Lamp", "Desk"], await names(database_url))


@pytest.mark.stub_may_pass("the stub never commits and lets every error through")
async def test_unexpected_error_leaves_nothing(app, database_url):
    """an unexpected error keeps nothing the request wrote and reaches the server as raised"""
    async with running(app) as (client, _):
        try:
            await client.post(PROBE_FAIL)
        except ProbeError:
            pass
        except Exception as error:
            raise Failure(
                f"expected ProbeError to reach the server, not {type(error).__name__}",
                help=NOT_RAISED,
            ) from None
        else:
            raise Failure("expected ProbeError to reach the server", help=NOT_RAISED)
    expect_equal("committed products", [], await names(database_url), help=LEFT_OVER)


async def test_the_app_goes_on_after_an_error(app, database_url):
    """after a request that failed, the next ones are served and committed"""
    async with running(app, raise_app_exceptions=False) as (client, _):
        expect_status(await client.post(PROBE_FAIL), 500, help=NOT_RAISED)
        await add(client, LAMP)
        response = await client.post("/products", json=[DESK, LAMP])
        expect_status(response, 409)
        await add(client, CHAIR)
    expect_equal(
        "committed products", ["Lamp", "Chair"], await names(database_url), help=NOT_STORED
    )


# -- one session for each request --------------------------------------------------------


async def test_read_a_product(app, database_url):
    """GET /products/{id} answers the stored product, or 404 for an unknown id"""
    async with running(app) as (client, _):
        [lamp, desk] = await add(client, LAMP, DESK)
        response = await client.get(f"/products/{desk['id']}")
        expect_status(response, 200, help=NOT_STORED)
        expect_json(response, {**DESK, "id": desk["id"]})
        unknown = lamp["id"] + desk["id"] + 1
        response = await client.get(f"/products/{unknown}")
        expect_status(response, 404)
        expect_json(response, {"detail": f"Product {unknown} not found."})


async def test_delete_shares_the_session(app, database_url):
    """DELETE /products/{id} answers 204 and the product is gone (get_product shares the session)"""
    async with running(app, raise_app_exceptions=False) as (client, _):
        [lamp, desk] = await add(client, LAMP, DESK)
        response = await client.delete(f"/products/{lamp['id']}")
        expect_status(response, 204, help=TWO_SESSIONS if response.status_code == 500 else None)
        expect_equal("body of the 204", b"", response.content)
        expect_equal("committed products", [desk], await committed(database_url), help=NOT_STORED)
        response = await client.delete(f"/products/{lamp['id']}")
        expect_status(response, 404)
        expect_json(response, {"detail": f"Product {lamp['id']} not found."})


@pytest.mark.stub_may_pass("the stub already opens a new session for each request")
async def test_two_requests_get_two_sessions(app, database_url):
    """two requests at the same time get two different sessions"""
    PROBE.expected = 2
    async with running(app) as (client, _):
        with anyio.fail_after(WAIT_S):
            async with anyio.create_task_group() as group:
                for _ in range(2):
                    group.start_soon(client.get, PROBE_SESSION)
    expect_equal("sessions seen by the 2 requests", 2, len(PROBE.sessions))
    first, second = PROBE.sessions
    expect(first is not second, "expected two different sessions, not one shared", help=SHARED)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/products/1", None, 200),
        ("GET", "/products/7", None, 404),
        ("POST", "/products", [DESK, LAMP], 409),
        ("POST", PROBE_FAIL, None, 500),
        ("DELETE", "/products/1", None, 204),
    ],
    ids=["read", "not-found", "refused", "failed", "deleted"],
)
async def test_no_connection_left_checked_out(app, database_url, method, path, body, status):
    """once a request is done, its session is closed: no connection stays checked out"""
    async with running(app, raise_app_exceptions=False) as (client, state):
        async with other_client(database_url) as connection:
            await connection.execute(text("INSERT INTO products (name, price) VALUES ('Lamp', 1)"))
            await connection.commit()
        response = await client.request(method, path, json=body)
        expect_status(response, status)
        expect_equal("connections checked out after the request", 0, checked_out(state), help=OPEN)


# -- the lifespan's engine and sessions --------------------------------------------------


async def test_sessions_keep_values_after_commit(exercise, app, database_url):
    """the state's sessions keep a committed object's values: reading them sends no SQL"""
    async with running(app) as (_, state):
        sessions = from_state(state, "sessions")
        async with sessions() as session:
            product = exercise.Product(name="Lamp", price=1500)
            session.add(product)
            await session.commit()
            failed = None
            with warnings.catch_warnings(), count_statements() as statements:
                warnings.simplefilter("ignore", RuntimeWarning)  # the coroutine a reload left
                try:
                    values = (product.name, product.price)
                except Exception as error:
                    failed = type(error).__name__
                if failed is not None:
                    gc.collect()
        if failed is not None:
            raise Failure(f"reading a committed product raised {failed}", help=EXPIRED)
        expect_equal(
            "statements sent to read a committed product", 0, statements.count, help=EXPIRED
        )
        expect_equal("the committed product's name and price", ("Lamp", 1500), values)


async def test_engine_disposed_at_shutdown(app, database_url):
    """when the app shuts down, the engine is disposed of: its pool keeps no connection"""
    async with running(app) as (_, state):
        engine = from_state(state, "engine")
    expect_equal(
        "connections left in the pool after shutdown",
        0,
        engine.pool.checkedin(),
        help=NOT_DISPOSED,
    )
