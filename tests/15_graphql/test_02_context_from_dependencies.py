"""Hidden suite for 15_graphql/02_context_from_dependencies: a context built by FastAPI.

Every check starts the app on a fresh, empty database of its own (the `database_url`
fixture: a SQLite file, or a PostgreSQL database when DATABASE_URL names a server), seeds
two users and a book through an engine of its own, and talks GraphQL over HTTP. Sessions
are counted by SQLAlchemy's session events (each session that begins a transaction during
a request), connections by the pool's checkout and checkin events, whatever engine the app
made. One check holds a request's body back until another request is done, so a user kept
anywhere but in the request's own context shows.
"""

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import anyio
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool, Pool

from workbook.testing import (
    HANG_GUARD,
    Failure,
    expect,
    expect_equal,
    expect_status,
    provide,
    response_json,
    running,
)

SIGN_IN = "Sign in to add a book."
ADA = {"id": 1, "name": "Ada", "token": "ada-token"}
GRACE = {"id": 2, "name": "Grace", "token": "grace-token"}
DUNE = {"id": 1, "title": "Dune", "addedBy": 2}
EVERYTHING = "{ me { id name } books { id title addedBy } again: books { id } }"
ME = "{ me { id name } }"

# a session left open leaves its connection to the garbage collector, which warns: the
# checks count the connections themselves, so the warning must not fail a later check
pytestmark = [
    pytest.mark.filterwarnings("ignore:The garbage collector is trying to clean up"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

NOT_MOUNTED = (
    'Nothing answers POST /graphql: is the GraphQLRouter still included in the app at "/graphql"?'
)
NO_CONTEXT = (
    "Is the GraphQLRouter made with context_getter=get_context, and does get_context return "
    "a Context holding the session and the user it got from FastAPI (SessionDep and "
    "CurrentUserDep)?"
)
ME_HELP = (
    "Does me answer info.context.user, the user get_current_user found for this request's "
    "token (None without one)?"
)
GLOBAL_USER = (
    "The user of another request answered: is the user kept somewhere shared (a module "
    "global, a class attribute)? Keep it in the request's context, which FastAPI builds "
    "anew for each request."
)
SIGN_IN_HELP = (
    'Does addBook raise an error with the message "Sign in to add a book." when '
    "info.context.user is None, before it writes anything?"
)
NOT_STORED = (
    "The book added was not committed: does addBook add it to info.context.session, the "
    "session get_session commits when the request is done?"
)
ONE_SESSION = (
    "Does every resolver use info.context.session, the one session FastAPI gave "
    "get_context (and get_current_user), rather than open a session of its own?"
)
NEW_SESSION = (
    "Two requests shared one session: is a session made once and kept (a module global, "
    "the context getter's default)? get_session gives each request a new one."
)
LEFT_OPEN = (
    "A connection was still checked out after the request: does get_context take its "
    "session from SessionDep, which closes it when the request is done, rather than open "
    "one itself?"
)
NOT_DISPOSED = (
    "Connections stayed open after the app shut down: does the lifespan (given) still "
    "dispose of the engine (await engine.dispose()) after its yield?"
)
OVERRIDDEN = (
    "The override of {name} did not reach GraphQL: does get_context ask FastAPI for it "
    "(SessionDep, CurrentUserDep) rather than build it itself? app.dependency_overrides "
    "only replaces dependencies FastAPI resolves."
)


@dataclass
class Sessions:
    """The ORM sessions that began a transaction while a block ran, each once, in order."""

    seen: list[Session] = field(default_factory=list)

    def record(self, session: Session, *args: Any) -> None:
        if not any(session is known for known in self.seen):
            self.seen.append(session)


@contextmanager
def count_sessions() -> Iterator[Sessions]:
    sessions = Sessions()
    event.listen(Session, "after_begin", sessions.record)
    try:
        yield sessions
    finally:
        event.remove(Session, "after_begin", sessions.record)


@dataclass
class Connections:
    """Connections checked out of any pool, less those checked back in, while a block ran."""

    out: int = 0

    def checkout(self, *args: Any) -> None:
        self.out += 1

    def checkin(self, *args: Any) -> None:
        self.out -= 1


@contextmanager
def count_connections() -> Iterator[Connections]:
    connections = Connections()
    event.listen(Pool, "checkout", connections.checkout)
    event.listen(Pool, "checkin", connections.checkin)
    try:
        yield connections
    finally:
        event.remove(Pool, "checkout", connections.checkout)
        event.remove(Pool, "checkin", connections.checkin)


# -- data ----------------------------------------------------------------------------------


@asynccontextmanager
async def other_client(url: str) -> AsyncIterator[Any]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def seed(url: str) -> None:
    async with other_client(url) as connection:
        await connection.execute(
            text("INSERT INTO users (id, name, token) VALUES (:id, :name, :token)"), [ADA, GRACE]
        )
        await connection.execute(text("INSERT INTO books (title, added_by) VALUES ('Dune', 2)"))
        await connection.commit()


async def stored_books(url: str) -> list[dict[str, Any]]:
    """The books another client sees: only what was committed."""
    async with other_client(url) as connection:
        rows = await connection.execute(text("SELECT id, title, added_by FROM books ORDER BY id"))
        return [{"id": r.id, "title": r.title, "addedBy": r.added_by} for r in rows]


# -- GraphQL over HTTP ---------------------------------------------------------------------


def bearer(user: dict[str, Any] | None) -> dict[str, str]:
    return {} if user is None else {"authorization": f"Bearer {user['token']}"}


async def graphql(client: Any, query: str, headers: dict[str, str] | None = None, **kw: Any):
    """POST one GraphQL document; the decoded body of the 200."""
    if "content" not in kw:
        kw["json"] = {"query": query}
    response = await client.post("/graphql", headers=headers or {}, **kw)
    expect_status(response, 200, help=NOT_MOUNTED if response.status_code in (404, 405) else None)
    body = response_json(response)
    expect(isinstance(body, dict), f"expected a GraphQL result object, not {body!r}")
    return body


def expect_data(body: dict[str, Any], expected: dict[str, Any], *, help: str | None = None):
    """A GraphQL result with exactly this data and no errors list."""
    errors = body.get("errors")
    if errors is not None:
        messages = [error.get("message") for error in errors]
        raise Failure(f"expected no GraphQL errors, not {messages}", help=help or NO_CONTEXT)
    expect_equal("GraphQL data", expected, body.get("data"), help=help)


def add_book(title: str) -> str:
    return f'mutation {{ addBook(title: "{title}") {{ id title addedBy }} }}'


@pytest.fixture
def app(exercise: ModuleType) -> Any:
    exercise.app.dependency_overrides.clear()
    yield exercise.app
    exercise.app.dependency_overrides.clear()


# -- the current user ----------------------------------------------------------------------


@pytest.mark.parametrize("user", [ADA, GRACE], ids=["ada", "grace"])
async def test_me_is_the_signed_in_user(app, database_url, user):
    """me answers the user whose bearer token the request carries"""
    async with running(app) as (client, _):
        await seed(database_url)
        body = await graphql(client, ME, bearer(user))
        expect_data(body, {"me": {"id": user["id"], "name": user["name"]}}, help=ME_HELP)


@pytest.mark.stub_may_pass("the stub's me answers null for everyone")
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer nobody-token"},
        {"authorization": "Basic ada-token"},
        {"authorization": "ada-token"},
    ],
    ids=["no-header", "unknown-token", "other-scheme", "no-scheme"],
)
async def test_me_is_null_without_a_user(app, database_url, headers):
    """without a known bearer token, me is null and there are no errors"""
    async with running(app) as (client, _):
        await seed(database_url)
        expect_data(await graphql(client, ME, headers), {"me": None}, help=ME_HELP)


async def test_anonymous_right_after_a_signed_in_request(app, database_url):
    """a request without a token is anonymous, even right after a signed-in one"""
    async with running(app) as (client, _):
        await seed(database_url)
        expect_data(await graphql(client, ME, bearer(ADA)), {"me": {"id": 1, "name": "Ada"}})
        expect_data(await graphql(client, ME), {"me": None}, help=GLOBAL_USER)


async def test_user_stays_with_its_request(app, database_url):
    """each request sees its own user, even while another request is served in between"""
    reading, release = anyio.Event(), anyio.Event()
    answers: dict[str, Any] = {}

    async def held_back_body() -> AsyncIterator[bytes]:
        # FastAPI has built the context by the time GraphQL reads the request's body
        reading.set()
        await release.wait()
        yield json.dumps({"query": ME}).encode()

    async def as_ada(client: Any) -> None:
        headers = {**bearer(ADA), "content-type": "application/json"}
        answers["ada"] = await graphql(client, ME, headers, content=held_back_body())

    async with running(app) as (client, _):
        await seed(database_url)
        with anyio.fail_after(HANG_GUARD):
            async with anyio.create_task_group() as group:
                group.start_soon(as_ada, client)
                await reading.wait()
                answers["grace"] = await graphql(client, ME, bearer(GRACE))
                release.set()
    expect_data(answers["grace"], {"me": {"id": 2, "name": "Grace"}}, help=ME_HELP)
    expect_data(answers["ada"], {"me": {"id": 1, "name": "Ada"}}, help=GLOBAL_USER)


# -- the mutation needs a user -------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"authorization": "Bearer nobody-token"}], ids=["no-token", "unknown-token"]
)
async def test_add_book_needs_a_user(app, database_url, headers):
    """addBook without a user answers one error at path ["addBook"] and stores nothing"""
    async with running(app) as (client, _):
        await seed(database_url)
        body = await graphql(client, add_book("Solaris"), headers)
        errors = body.get("errors")
        expect(errors, f"expected a GraphQL error, not {body!r}", help=SIGN_IN_HELP)
        expect_equal("number of GraphQL errors", 1, len(errors))
        expect_equal("error message", SIGN_IN, errors[0].get("message"), help=SIGN_IN_HELP)
        expect_equal("error path", ["addBook"], errors[0].get("path"))
        expect_equal("GraphQL data", None, body.get("data"))
    expect_equal("books stored", [DUNE], await stored_books(database_url), help=SIGN_IN_HELP)


@pytest.mark.parametrize("user", [ADA, GRACE], ids=["ada", "grace"])
async def test_add_book_as_a_user(app, database_url, user):
    """addBook with a user answers the new book, addedBy that user, committed"""
    async with running(app) as (client, _):
        await seed(database_url)
        body = await graphql(client, add_book("Solaris"), bearer(user))
        added = {"id": 2, "title": "Solaris", "addedBy": user["id"]}
        expect_data(body, {"addBook": added})
        expect_equal(
            "books stored", [DUNE, added], await stored_books(database_url), help=NOT_STORED
        )
        body = await graphql(client, "{ books { id title addedBy } }")
        expect_data(body, {"books": [DUNE, added]})


# -- one session per request, closed after -------------------------------------------------


@pytest.mark.parametrize(
    ("document", "user"),
    [
        (EVERYTHING, ADA),
        (EVERYTHING, None),
        ('mutation { a: addBook(title: "X") { id } b: addBook(title: "Y") { id } }', GRACE),
    ],
    ids=["query-signed-in", "query-anonymous", "two-mutations"],
)
async def test_one_session_per_request(app, database_url, document, user):
    """every resolver and dependency of one request shares one session"""
    async with running(app) as (client, _):
        await seed(database_url)
        with count_sessions() as sessions:
            body = await graphql(client, document, bearer(user))
        errors = body.get("errors")
        expect(errors is None, f"expected no GraphQL errors, not {errors}", help=NO_CONTEXT)
        expect_equal("sessions used by one request", 1, len(sessions.seen), help=ONE_SESSION)


async def test_two_requests_two_sessions(app, database_url):
    """two requests get two different sessions"""
    async with running(app) as (client, _):
        await seed(database_url)
        with count_sessions() as sessions:
            for user in (ADA, GRACE):
                expect_data(
                    await graphql(client, "{ me { name } books { id } }", bearer(user)),
                    {"me": {"name": user["name"]}, "books": [{"id": 1}]},
                )
        expect_equal("sessions used by two requests", 2, len(sessions.seen), help=NEW_SESSION)


@pytest.mark.parametrize(
    ("document", "user", "expected"),
    [
        (EVERYTHING, ADA, {"me": {"id": 1, "name": "Ada"}, "books": [DUNE], "again": [{"id": 1}]}),
        (EVERYTHING, None, {"me": None, "books": [DUNE], "again": [{"id": 1}]}),
        (add_book("X"), GRACE, {"addBook": {"id": 2, "title": "X", "addedBy": 2}}),
        (add_book("X"), None, None),
    ],
    ids=["query-signed-in", "query-anonymous", "mutation", "refused-mutation"],
)
async def test_session_closed_after_the_request(app, database_url, document, user, expected):
    """once a request is done, its session is closed: no connection stays checked out"""
    async with running(app) as (client, _):
        await seed(database_url)
        with count_connections() as connections:
            body = await graphql(client, document, bearer(user))
        if expected is None:
            messages = [error.get("message") for error in body.get("errors") or []]
            expect_equal("GraphQL error messages", [SIGN_IN], messages, help=SIGN_IN_HELP)
        else:
            expect_data(body, expected)
        expect_equal("connections still checked out", 0, connections.out, help=LEFT_OPEN)


@contextmanager
def open_connections() -> Iterator[Connections]:
    """Database connections opened less those closed, by any pool, while the block ran."""
    connections = Connections()
    event.listen(Pool, "connect", connections.checkout)
    event.listen(Pool, "close", connections.checkin)
    try:
        yield connections
    finally:
        event.remove(Pool, "connect", connections.checkout)
        event.remove(Pool, "close", connections.checkin)


@pytest.mark.stub_may_pass("the lifespan is given")
async def test_connections_closed_at_shutdown(app, database_url):
    """when the app shuts down, every database connection it opened is closed"""
    with open_connections() as connections:
        async with running(app) as (client, _):
            await seed(database_url)
            await graphql(client, EVERYTHING, bearer(ADA))
    expect_equal("connections still open after shutdown", 0, connections.out, help=NOT_DISPOSED)


# -- dependency overrides reach GraphQL ----------------------------------------------------


async def test_session_override_reaches_graphql(exercise, app, database_url):
    """app.dependency_overrides[get_session] replaces the session the resolvers use"""
    async with running(app) as (client, _):
        await seed(database_url)
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                transaction = await connection.begin()
                session = AsyncSession(bind=connection)
                # seen only through this session: it is never committed
                await session.execute(
                    text("INSERT INTO books (id, title, added_by) VALUES (7, 'Unsaved', 1)")
                )

                async def overridden() -> AsyncIterator[AsyncSession]:
                    yield session

                app.dependency_overrides[exercise.get_session] = overridden
                body = await graphql(client, "{ books { id title } }")
                await session.close()
                await transaction.rollback()
        finally:
            await engine.dispose()
        expected = {"books": [{"id": 1, "title": "Dune"}, {"id": 7, "title": "Unsaved"}]}
        expect_data(body, expected, help=OVERRIDDEN.format(name="get_session"))


async def test_user_override_reaches_graphql(exercise, app, database_url):
    """app.dependency_overrides[get_current_user] replaces the user the resolvers see"""
    async with running(app) as (client, _):
        await seed(database_url)
        # Grace as the tests make her, for a request that carries no token at all
        stand_in = exercise.User(id=GRACE["id"], name="Stand-in", token="never-sent")
        app.dependency_overrides[exercise.get_current_user] = provide(stand_in)
        help = OVERRIDDEN.format(name="get_current_user")
        expect_data(await graphql(client, ME), {"me": {"id": 2, "name": "Stand-in"}}, help=help)
        body = await graphql(client, add_book("Overridden"))
        expect_data(body, {"addBook": {"id": 2, "title": "Overridden", "addedBy": 2}}, help=help)
