"""Every snippet of lessons/09-async-sqlalchemy.md runs and does what the page says.

Each check that touches a database requests ``database_url``: a fresh SQLite file here, a
fresh PostgreSQL database when ``DATABASE_URL`` names a server (CI runs them both ways).
Where the two databases differ, the check says what each one does.
"""

import gc
import hmac
import os
import re
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import anyio
import pytest
from fastapi import Depends, FastAPI
from fastapi.exceptions import ResponseValidationError
from pydantic import BaseModel, ValidationError, field_validator
from sqlalchemy import delete, event, insert, inspect, make_url, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InvalidRequestError,
    MissingGreenlet,
    PendingRollbackError,
    StatementError,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as create_engine
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.schema import CreateTable

from workbook.loader import load_copy
from workbook.testing import client_for, running

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "09-async-sqlalchemy.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "09_async_sqlalchemy"
TESTED = {
    "bookshop.py",
    "expired.py",
    "counting.py",
    "n_plus_one.py",
    "keyset.py",
    "cursors.py",
    "optimistic.py",
    "rollback_fixtures.py",
    "dialects.py",
}
GREENLET = "greenlet_spawn has not been called; can't call await_() here."


def fresh(filename: str) -> ModuleType:
    """A new copy of a snippet: its own classes, its own metadata, its own app."""
    return load_copy(SNIPPETS / filename)


def backend(url: str) -> str:
    return make_url(url).get_backend_name()


@contextmanager
def sent_with_parameters(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """Each statement `engine` sends in the block, on one line, with its parameters."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((" ".join(statement.split()), parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@asynccontextmanager
async def database(url: str, module: ModuleType) -> AsyncIterator[AsyncEngine]:
    """An engine on the check's database with the snippet's tables created."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(module.Base.metadata.create_all)
        yield engine
    finally:
        await engine.dispose()


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "09_async_sqlalchemy/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


# -- bookshop.py: typed models --------------------------------------------------------------


def test_mapped_types_decide_the_columns() -> None:
    books = fresh("bookshop.py").Book.__table__
    nullable = {column.name: column.nullable for column in books.columns}
    assert nullable == {
        "id": False,
        "isbn": False,
        "title": False,
        "subtitle": True,  # Mapped[str | None]
        "author_id": False,
    }
    assert str(books.c.isbn.type) == "VARCHAR(13)"
    assert str(books.c.subtitle.type) == "VARCHAR"  # a plain str: no length
    assert [fk.target_fullname for fk in books.c.author_id.foreign_keys] == ["authors.id"]


def test_back_populates_links_both_sides() -> None:
    shop = fresh("bookshop.py")
    author, book = shop.Author(name="Ursula"), shop.Book(isbn="1", title="A")
    author.books.append(book)
    assert book.author is author


def test_the_tables_in_each_dialect() -> None:
    books = fresh("bookshop.py").Book.__table__
    on_sqlite = str(CreateTable(books).compile(dialect=sqlite.dialect()))
    on_postgresql = str(CreateTable(books).compile(dialect=postgresql.dialect()))
    for ddl in (on_sqlite, on_postgresql):
        assert "isbn VARCHAR(13) NOT NULL" in ddl
        assert "subtitle VARCHAR," in ddl
        assert "UNIQUE (isbn)" in ddl
        assert "FOREIGN KEY(author_id) REFERENCES authors (id)" in ddl
    assert "id INTEGER NOT NULL" in on_sqlite
    assert "id SERIAL NOT NULL" in on_postgresql


# -- bookshop.py: the engine in the lifespan, one session per request ------------------------

URSULA = {
    "name": "Ursula K. Le Guin",
    "books": [
        {"isbn": "9780441478125", "title": "The Left Hand of Darkness"},
        {"isbn": "9780060512750", "title": "The Dispossessed", "subtitle": "An Ambiguous Utopia"},
    ],
}


async def count_rows(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as connection:
        return (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()


async def test_the_lifespan_reads_database_url_when_the_app_starts(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL")
    shop = fresh("bookshop.py")  # imported while the variable is unset...
    monkeypatch.setenv("DATABASE_URL", database_url)  # ...set before start-up: it counts
    async with running(shop.app) as (_, state):
        engine = state["engine"]
        assert engine.url.render_as_string(hide_password=False) == database_url
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert sorted(tables) == ["authors", "books"]
        assert isinstance(state["sessions"], async_sessionmaker)


async def test_create_all_leaves_existing_tables_alone(database_url: str) -> None:
    shop = fresh("bookshop.py")
    async with running(shop.app) as (client, _):
        assert (await client.post("/authors", json=URSULA)).status_code == 201
    async with running(shop.app) as (client, _):  # start-up again: create_all again
        assert [author["name"] for author in (await client.get("/authors")).json()] == [
            URSULA["name"]
        ]


async def test_a_request_commits_its_writes(database_url: str) -> None:
    shop = fresh("bookshop.py")
    async with running(shop.app) as (client, state):
        created = await client.post("/authors", json=URSULA)
        assert created.status_code == 201
        body = created.json()
        assert body["name"] == URSULA["name"]
        assert [book["title"] for book in body["books"]] == [
            "The Left Hand of Darkness",
            "The Dispossessed",
        ]
        assert body["books"][0]["subtitle"] is None
        assert (await count_rows(state["engine"], "books")) == 2  # seen by another connection
        listed = await client.get("/authors")
        assert listed.json() == [body]
        assert (await client.get(f"/authors/{body['id']}")).json() == body
        assert (await client.get("/authors/999")).status_code == 404


async def test_a_failed_request_leaves_nothing(database_url: str) -> None:
    shop = fresh("bookshop.py")
    async with running(shop.app) as (client, state):
        assert (await client.post("/authors", json=URSULA)).status_code == 201
        again = {"name": "Someone else", "books": [{"isbn": "1", "title": "New"}, *URSULA["books"]]}
        refused = await client.post("/authors", json=again)
        assert refused.status_code == 409
        assert refused.json() == {"detail": "A book with one of these ISBNs exists already."}
        assert (await count_rows(state["engine"], "authors")) == 1  # the author went too
        assert (await count_rows(state["engine"], "books")) == 2
        assert state["engine"].pool.checkedout() == 0


async def test_one_session_per_request_shared_by_its_dependencies(database_url: str) -> None:
    shop = fresh("bookshop.py")
    sessions: list[AsyncSession] = []

    async def also_wants_a_session(session: shop.SessionDep) -> AsyncSession:
        return session

    @shop.app.get("/probe")
    async def probe(
        session: shop.SessionDep, other: Annotated[AsyncSession, Depends(also_wants_a_session)]
    ) -> bool:
        sessions.append(session)
        await session.execute(select(1))
        return session is other

    async with running(shop.app) as (client, state):
        assert (await client.get("/probe")).json() is True
        assert (await client.get("/probe")).json() is True
        assert sessions[0] is not sessions[1]
        assert state["engine"].pool.checkedout() == 0  # the connection went back to the pool
        assert not any(session.in_transaction() for session in sessions)


async def test_the_commit_comes_after_serialization_and_before_the_response(
    database_url: str,
) -> None:
    shop = fresh("bookshop.py")
    events: list[str] = []

    class Probe(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def seen(cls, value: str) -> str:
            events.append("response validated")
            return value

    @shop.app.post("/probe", response_model=Probe)
    async def probe(session: shop.SessionDep) -> Any:
        session.add(shop.Author(name="Probe"))
        events.append("endpoint returned")
        return {"name": "Probe"}

    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        async def note(message: Any) -> None:
            if message["type"] == "http.response.start":
                events.append("response started")
            await send(message)

        await shop.app(scope, receive, note)

    def committed(session: Session) -> None:
        events.append("commit")

    def checked_in(dbapi_connection: Any, record: Any) -> None:
        events.append("connection back in the pool")

    event.listen(Session, "after_commit", committed)
    try:
        async with running(recorded) as (client, state):
            event.listen(state["engine"].sync_engine, "checkin", checked_in)
            assert (await client.post("/probe")).status_code == 200
    finally:
        event.remove(Session, "after_commit", committed)
    assert events == [
        "endpoint returned",
        "response validated",
        "commit",
        "connection back in the pool",
        "response started",
    ]


async def test_shutdown_disposes_of_the_engine(database_url: str) -> None:
    shop = fresh("bookshop.py")
    async with running(shop.app) as (client, state):
        await client.get("/authors")
        engine = state["engine"]
        assert engine.pool.checkedin() == 1  # kept open for the next request
    assert engine.pool.checkedin() == 0  # dispose() closed it


async def test_lazy_raise_names_the_relationship(database_url: str) -> None:
    shop = fresh("bookshop.py")
    async with running(shop.app) as (client, state):
        await client.post("/authors", json=URSULA)
        async with state["sessions"]() as session:
            author = await session.scalar(select(shop.Author))
            with (
                sent_with_parameters(state["engine"]) as sent,
                pytest.raises(InvalidRequestError) as raised,
            ):
                author.books  # noqa: B018 -- the access is the point
            assert str(raised.value) == "'Author.books' is not available due to lazy='raise'"
            assert sent == []  # refused before any SQL
            book = await session.scalar(select(shop.Book))
            assert book.author_id == author.id  # the author is in the session already...
            with pytest.raises(InvalidRequestError, match=r"'Book\.author' is not available"):
                book.author  # noqa: B018 -- ...and lazy="raise" refuses all the same
            loaded = await session.scalar(
                select(shop.Author).options(selectinload(shop.Author.books))
            )
            assert len(loaded.books) == 2


async def test_after_a_failed_flush_the_session_must_roll_back(database_url: str) -> None:
    shop = fresh("bookshop.py")
    async with running(shop.app) as (client, state):
        await client.post("/authors", json=URSULA)
        async with state["sessions"]() as session:
            session.add(shop.Book(author_id=1, **URSULA["books"][0]))
            with pytest.raises(IntegrityError):
                await session.flush()
            with pytest.raises(PendingRollbackError) as refused:
                await session.execute(select(1))
            assert str(refused.value).startswith(
                "This Session's transaction has been rolled back due to a previous exception "
                "during flush. To begin a new transaction with this Session, first issue "
                "Session.rollback()."
            )
            await session.rollback()
            assert (await session.execute(select(1))).scalar_one() == 1


async def test_a_savepoint_keeps_the_rest_of_the_unit_of_work(database_url: str) -> None:
    shop = fresh("bookshop.py")
    async with running(shop.app) as (client, state):
        await client.post("/authors", json=URSULA)
        async with state["sessions"]() as session:
            session.add(shop.Author(name="kept"))
            with pytest.raises(IntegrityError):
                async with session.begin_nested():
                    session.add(shop.Book(author_id=1, **URSULA["books"][0]))
            session.add(shop.Author(name="kept too"))
            await session.commit()
        names = [author["name"] for author in (await client.get("/authors")).json()]
    assert names == [URSULA["name"], "kept", "kept too"]


async def test_a_session_shared_by_requests_loses_a_committed_answer(database_url: str) -> None:
    shop = fresh("bookshop.py")
    paused, resume = anyio.Event(), anyio.Event()

    @shop.app.post("/slow", status_code=201)
    async def slow(session: shop.SessionDep) -> str:
        session.add(shop.Author(name="slow"))
        paused.set()
        await resume.wait()  # another request runs meanwhile, on the same session
        return "stored?"

    async with running(shop.app) as (client, state):
        shared = state["sessions"]()  # the mistake: one session for every request

        async def one_session_for_all() -> AsyncIterator[AsyncSession]:
            try:
                yield shared
                await shared.commit()
            except Exception:
                await shared.rollback()
                raise

        shop.app.dependency_overrides[shop.get_session] = one_session_for_all
        assert (await client.post("/authors", json=URSULA)).status_code == 201
        answers = {}

        async def post_slow() -> None:
            answers["slow"] = (await client.post("/slow")).status_code

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(post_slow)
                await paused.wait()
                answers["duplicate"] = (await client.post("/authors", json=URSULA)).status_code
                resume.set()
        await shared.close()
        async with state["engine"].connect() as connection:
            names = (await connection.execute(text("SELECT name FROM authors"))).scalars().all()
    assert answers == {"slow": 201, "duplicate": 409}
    assert names == [URSULA["name"]]  # the other request's rollback took "slow" with it


# -- expired.py: expire_on_commit ---------------------------------------------------------


def lazy_load_error(url: str, error: BaseException) -> str:
    """The lazy load in async code, as each driver reports it."""
    if backend(url) == "sqlite":  # aiosqlite wraps it in a StatementError
        assert type(error) is StatementError
        assert isinstance(error.orig, MissingGreenlet)
    else:
        assert type(error) is MissingGreenlet
    return str(error)


async def test_expired_attributes_cannot_load_in_async_code(database_url: str) -> None:
    notes = fresh("expired.py")
    async with database(database_url, notes) as engine:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                await notes.add_note(async_sessionmaker(engine), "expired")
            except ValidationError as exc:  # Pydantic read the attributes, and wrapped the error
                errors = [(e["loc"], e["type"], e["msg"]) for e in exc.errors()]
            else:
                pytest.fail("reading an expired attribute worked")
            gc.collect()
        assert [(loc, kind) for loc, kind, _ in errors] == [
            (("id",), "get_attribute_error"),
            (("text",), "get_attribute_error"),
        ]
        wrapped = "StatementError: (sqlalchemy.exc.MissingGreenlet)"
        if backend(database_url) != "sqlite":
            wrapped = "MissingGreenlet:"
        assert errors[0][2].startswith(f"Error extracting attribute: {wrapped} {GREENLET}")
        unawaited = [w for w in caught if "was never awaited" in str(w.message)]
        assert len(unawaited) == (2 if backend(database_url) == "sqlite" else 0)
        assert (await count_rows(engine, "notes")) == 1  # the commit itself went through


async def test_fastapi_reports_an_expired_response_as_a_500(database_url: str) -> None:
    notes = fresh("expired.py")
    async with database(database_url, notes) as engine:
        sessions = async_sessionmaker(engine)  # expire_on_commit=True, the default

        async def get_session() -> AsyncIterator[AsyncSession]:
            async with sessions() as session:
                yield session

        app = FastAPI()

        @app.post("/notes", response_model=notes.NoteOut)
        async def add_note(session: Annotated[AsyncSession, Depends(get_session)]) -> Any:
            note = notes.Note(text="expired")
            session.add(note)
            await session.commit()
            return note  # FastAPI reads its attributes later, outside SQLAlchemy's await

        @app.post("/closed", response_model=notes.NoteOut)
        async def add_note_and_close() -> Any:
            async with sessions() as session:
                note = notes.Note(text="expired and detached")
                session.add(note)
                await session.commit()
            return note

        messages = []
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            for url in ("/notes", "/closed"):
                async with client_for(app) as client:
                    with pytest.raises(ResponseValidationError) as raised:
                        await client.post(url)
                errors = raised.value.errors()
                assert [e["type"] for e in errors] == ["get_attribute_error"] * 2
                messages.append(errors[0]["msg"])
                async with client_for(app, raise_app_exceptions=False) as client:
                    assert (await client.post(url)).status_code == 500
            del raised, errors
            gc.collect()
    assert GREENLET in messages[0]
    assert messages[1].startswith(
        "Error extracting attribute: DetachedInstanceError: Instance <Note at 0x"
    )
    assert "is not bound to a Session; attribute refresh operation cannot proceed" in messages[1]


async def test_expire_on_commit_false_keeps_the_values(database_url: str) -> None:
    notes = fresh("expired.py")
    counting = fresh("counting.py")
    async with database(database_url, notes) as engine:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        with counting.count_statements(engine) as statements:
            note = await notes.add_note(sessions, "kept")
        assert note == notes.NoteOut(id=1, text="kept")
        assert [sql.split()[0] for sql in statements] == ["INSERT"]  # no SELECT after COMMIT


# -- n_plus_one.py and counting.py: the N+1, counted -----------------------------------------


async def seed_authors(engine: AsyncEngine, module: ModuleType, authors: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(module.Book))
        await connection.execute(delete(module.Author))
        rows = [{"id": n, "name": f"author {n}"} for n in range(1, authors + 1)]
        await connection.execute(insert(module.Author), rows)
        books = [
            {"title": f"book {n}.{k}", "author_id": n}
            for n in range(1, authors + 1)
            for k in (1, 2)
        ]
        await connection.execute(insert(module.Book), books)


@pytest.mark.parametrize(
    ("loader", "statements_for"),
    [
        ("one_by_one", lambda authors: 1 + authors),
        ("with_selectinload", lambda authors: 2),
        ("with_joinedload", lambda authors: 1),
    ],
)
async def test_statements_per_loader_at_each_size(
    database_url: str, loader: str, statements_for: Any
) -> None:
    shop = fresh("n_plus_one.py")
    counting = fresh("counting.py")
    async with database(database_url, shop) as engine:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        for authors in (1, 5, 25):
            await seed_authors(engine, shop, authors)
            async with sessions() as session:
                with counting.count_statements(engine) as statements:
                    titles = await getattr(shop, loader)(session)
            assert len(statements) == statements_for(authors), statements
            assert len(titles) == authors
            assert titles["author 1"] == ["book 1.1", "book 1.2"]


async def test_what_each_loader_sends(database_url: str) -> None:
    shop = fresh("n_plus_one.py")
    counting = fresh("counting.py")
    async with database(database_url, shop) as engine:
        await seed_authors(engine, shop, 3)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions() as session:
            with counting.count_statements(engine) as selectin:
                await shop.with_selectinload(session)
        async with sessions() as session:
            with counting.count_statements(engine) as joined:
                await shop.with_joinedload(session)
        async with sessions() as session:
            with counting.count_statements(engine) as books:
                pairs = await shop.books_with_authors(session)
    assert "books.author_id IN (" in " ".join(selectin[1].split())
    assert "LEFT OUTER JOIN books" in " ".join(joined[0].split())
    assert len(books) == 1
    assert pairs[:2] == [("book 1.1", "author 1"), ("book 1.2", "author 1")]


async def test_joinedload_of_a_collection_needs_unique(database_url: str) -> None:
    shop = fresh("n_plus_one.py")
    async with database(database_url, shop) as engine:
        await seed_authors(engine, shop, 2)
        async with AsyncSession(engine) as session:
            query = select(shop.Author).options(joinedload(shop.Author.books))
            result = await session.scalars(query)
            with pytest.raises(InvalidRequestError, match=r"The unique\(\) method must be invoked"):
                result.all()


async def test_selectinload_sends_500_keys_per_statement(database_url: str) -> None:
    shop = fresh("n_plus_one.py")
    counting = fresh("counting.py")
    async with database(database_url, shop) as engine:
        await seed_authors(engine, shop, 501)
        async with AsyncSession(engine) as session:
            with counting.count_statements(engine) as default:
                await shop.with_selectinload(session)
        async with AsyncSession(engine) as session:
            query = select(shop.Author).options(selectinload(shop.Author.books, chunksize=100))
            with counting.count_statements(engine) as chunked:
                await session.scalars(query)
    assert len(default) == 1 + 2  # 500 authors' books, then the last one's
    assert len(chunked) == 1 + 6


async def test_a_lazy_load_in_async_code_fails(database_url: str) -> None:
    shop = fresh("n_plus_one.py")
    async with database(database_url, shop) as engine:
        await seed_authors(engine, shop, 1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with AsyncSession(engine) as session:
                author = await session.scalar(select(shop.Author))
                try:
                    shop.titles(author)
                except Exception as exc:
                    message = lazy_load_error(database_url, exc)
                else:
                    pytest.fail("the lazy load worked")
                reloaded = await shop.with_selectinload(session)  # the same function, loaded
            gc.collect()
    assert GREENLET in message
    assert reloaded == {"author 1": ["book 1.1", "book 1.2"]}
    unawaited = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    if backend(database_url) == "sqlite":
        assert unawaited == ["coroutine 'Connection.cursor' was never awaited"]
    else:
        assert unawaited == []


LAZY_LOAD_THEN_ANOTHER_TEST = """
import gc
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from n_plus_one import Base, Author, titles


async def test_a_lazy_load_caught(tmp_path):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'lazy.sqlite3'}")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine) as session:
        session.add(Author(name="a"))
        await session.commit()
        author = await session.scalar(select(Author))
        with pytest.raises(Exception, match="greenlet_spawn has not been called"):
            titles(author)
    await engine.dispose()


def test_an_innocent_test():
    gc.collect()
"""


def test_a_lazy_load_on_sqlite_fails_a_later_test(tmp_path: Path) -> None:
    (tmp_path / "test_lazy.py").write_text(LAZY_LOAD_THEN_ANOTHER_TEST)
    command = [sys.executable, "-m", "pytest", "test_lazy.py", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "asyncio", "-o", "asyncio_mode=auto", "-W", "error", "-rA"]
    command += ["-o", "asyncio_default_fixture_loop_scope=function", "--rootdir", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(SNIPPETS), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=90
    )
    assert "PASSED test_lazy.py::test_a_lazy_load_caught" in done.stdout, done.stdout
    assert "FAILED test_lazy.py::test_an_innocent_test" in done.stdout, done.stdout
    assert (
        "PytestUnraisableExceptionWarning: Exception ignored in: "
        "<coroutine object Connection.cursor at 0x"
    ) in done.stdout


# -- keyset.py and cursors.py ---------------------------------------------------------------

NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def seed_events(engine: AsyncEngine, events: ModuleType, minutes: list[int]) -> None:
    rows = [
        {"created_at": NOON + timedelta(minutes=m), "name": f"event {n}"}
        for n, m in enumerate(minutes, 1)
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(events.Event), rows)


async def all_pages(session: AsyncSession, events: ModuleType, limit: int) -> list[list[str]]:
    pages, after = [], None
    while True:
        page, after = await events.page_after(session, after, limit)
        pages.append([event.name for event in page])
        if after is None:
            return pages


async def test_offset_pages_repeat_a_row_after_an_insert(database_url: str) -> None:
    events = fresh("keyset.py")
    async with database(database_url, events) as engine:
        await seed_events(engine, events, [1, 2, 3, 4, 5, 6])
        async with AsyncSession(engine) as session:
            first = [e.name for e in await events.page_by_offset(session, 1, 3)]
            await seed_events(engine, events, [0])  # a late event, sorted first
            second = [e.name for e in await events.page_by_offset(session, 2, 3)]
    assert first == ["event 1", "event 2", "event 3"]
    assert second == ["event 3", "event 4", "event 5"]  # event 3 again


async def test_offset_pages_skip_a_row_after_a_delete(database_url: str) -> None:
    events = fresh("keyset.py")
    async with database(database_url, events) as engine:
        await seed_events(engine, events, [1, 2, 3, 4, 5, 6])
        async with AsyncSession(engine) as session:
            first = [e.name for e in await events.page_by_offset(session, 1, 3)]
            async with engine.begin() as connection:
                await connection.execute(delete(events.Event).where(events.Event.id == 1))
            second = [e.name for e in await events.page_by_offset(session, 2, 3)]
    assert first == ["event 1", "event 2", "event 3"]
    assert second == ["event 5", "event 6"]  # event 4 was never shown


async def test_keyset_pages_neither_skip_nor_repeat(database_url: str) -> None:
    events = fresh("keyset.py")
    async with database(database_url, events) as engine:
        await seed_events(engine, events, [1, 2, 3, 3, 3, 4, 5])  # a tie across a boundary
        async with AsyncSession(engine) as session:
            first, after = await events.page_after(session, None, 3)
            await seed_events(engine, events, [0])  # before the cursor: changes nothing after it
            second, after = await events.page_after(session, after, 3)
            third, last = await events.page_after(session, after, 3)
    assert [e.name for e in first] == ["event 1", "event 2", "event 3"]
    assert [e.name for e in second] == ["event 4", "event 5", "event 6"]
    assert [e.name for e in third] == ["event 7"]
    assert last is None


async def test_what_each_page_sends(database_url: str) -> None:
    events = fresh("keyset.py")
    async with database(database_url, events) as engine:
        await seed_events(engine, events, [1, 2, 3, 4, 5, 6, 7])
        async with AsyncSession(engine) as session:
            _, after = await events.page_after(session, None, 3)
            with sent_with_parameters(engine) as keyset:
                await events.page_after(session, after, 3)
            with sent_with_parameters(engine) as offset:
                await events.page_by_offset(session, 2, 3)
    [(keyset_sql, keyset_parameters)] = keyset
    [(offset_sql, offset_parameters)] = offset
    assert keyset_sql.startswith("SELECT events.id, events.created_at, events.name FROM events")
    assert "WHERE (events.created_at, events.id) >" in keyset_sql
    if backend(database_url) == "sqlite":  # SQLite's dialect always writes an OFFSET...
        assert keyset_sql.endswith("LIMIT ? OFFSET ?")
        assert keyset_parameters[-2:] == (4, 0)  # ...of zero
        assert offset_sql.endswith("LIMIT ? OFFSET ?")
        assert offset_parameters[-2:] == (3, 3)
    else:
        assert "OFFSET" not in keyset_sql
        assert keyset_sql.endswith("LIMIT $3::INTEGER")
        assert offset_sql.endswith("LIMIT $1::INTEGER OFFSET $2::INTEGER")


async def test_a_full_last_page_has_no_next_cursor(database_url: str) -> None:
    events = fresh("keyset.py")
    async with database(database_url, events) as engine:
        await seed_events(engine, events, [1, 2, 3, 4, 5, 6])
        async with AsyncSession(engine) as session:
            assert await all_pages(session, events, 3) == [
                ["event 1", "event 2", "event 3"],
                ["event 4", "event 5", "event 6"],
            ]
            assert await all_pages(session, events, 100) == [[f"event {n}" for n in range(1, 7)]]


async def test_newest_first_is_the_same_comparison_reversed(database_url: str) -> None:
    events = fresh("keyset.py")
    Event = events.Event
    newest_first = select(Event).order_by(Event.created_at.desc(), Event.id.desc()).limit(2)
    async with database(database_url, events) as engine:
        await seed_events(engine, events, [1, 2, 2, 3])
        async with AsyncSession(engine) as session:
            first = list(await session.scalars(newest_first))
            after = tuple_(Event.created_at, Event.id) < (first[-1].created_at, first[-1].id)
            second = list(await session.scalars(newest_first.where(after)))
    assert [e.name for e in first] == ["event 4", "event 3"]
    assert [e.name for e in second] == ["event 2", "event 1"]


async def test_a_cursor_on_the_timestamp_alone_skips_ties(database_url: str) -> None:
    events = fresh("keyset.py")
    async with database(database_url, events) as engine:
        await seed_events(engine, events, [1, 2, 2, 3])
        async with AsyncSession(engine) as session:
            first, _ = await events.page_after(session, None, 2)
            after_time = select(events.Event).where(events.Event.created_at > first[-1].created_at)
            rest = await session.scalars(after_time.order_by(*events.ORDER))
            assert [e.name for e in first] == ["event 1", "event 2"]
            assert [e.name for e in rest] == ["event 4"]  # event 3 shares the time: skipped


SECRET = b"lesson-09-secret"


def test_a_cursor_round_trips() -> None:
    cursors = fresh("cursors.py")
    for position in [(NOON, 7), (datetime(2026, 6, 1, 12, 0), 8)]:  # aware, and naive
        assert cursors.decode_cursor(cursors.encode_cursor(position, SECRET), SECRET) == position


def test_a_cursor_is_readable_but_not_forgeable() -> None:
    cursors = fresh("cursors.py")
    cursor = cursors.encode_cursor((NOON, 7), SECRET)
    payload, signature = cursor.split(".")
    assert cursors._unb64(payload) == b'["2026-06-01T12:00:00+00:00", 7]'  # anyone can read it
    forged_payload = cursors._b64(b'["2026-06-01T12:00:00+00:00", 1]')
    refused = [
        f"{forged_payload}.{signature}",  # another position, the old signature
        f"{payload}.{signature[:-1]}",
        f"{payload}.{signature}x",
        cursors.encode_cursor((NOON, 7), b"another secret"),
        payload,  # no signature at all
        "",
        "not a cursor",
        "é.é",  # not ASCII: compare_digest on str would raise TypeError
    ]
    for cursor in refused:
        with pytest.raises(cursors.BadCursor):
            cursors.decode_cursor(cursor, SECRET)
    assert issubclass(cursors.BadCursor, ValueError)
    with pytest.raises(TypeError, match="non-ASCII"):
        hmac.compare_digest("é", "e")  # why decode_cursor compares bytes


async def test_a_cursor_works_with_what_each_database_returns(database_url: str) -> None:
    events = fresh("keyset.py")
    cursors = fresh("cursors.py")
    async with database(database_url, events) as engine:
        await seed_events(engine, events, [1, 2, 3])
        async with AsyncSession(engine) as session:
            _, after = await events.page_after(session, None, 2)
            cursor = cursors.encode_cursor(after, SECRET)
            second, _ = await events.page_after(session, cursors.decode_cursor(cursor, SECRET), 2)
    assert [e.name for e in second] == ["event 3"]
    aware = backend(database_url) == "postgresql"
    assert (after[0].tzinfo is not None) is aware  # SQLite hands back naive datetimes


# -- optimistic.py: stale writes and duplicates are 409s ------------------------------------

LAMP = {"sku": "A-1", "name": "lamp"}


async def test_the_version_goes_into_the_update(database_url: str) -> None:
    shop = fresh("optimistic.py")
    counting = fresh("counting.py")
    async with running(shop.app) as (client, state):
        created = await client.post("/items", json=LAMP)
        assert created.json() == {"id": 1, "version": 1, **LAMP}
        with counting.count_statements(state["engine"]) as statements:
            renamed = await client.patch("/items/1", json={"version": 1, "name": "desk lamp"})
        assert renamed.status_code == 200
        assert renamed.json() == {"id": 1, "version": 2, "sku": "A-1", "name": "desk lamp"}
    update = " ".join(statements[-1].split())
    assert update.startswith("UPDATE items SET name=")
    assert re.search(r"WHERE items\.id = \S+ AND items\.version = \S+$", update), update


async def test_a_stale_version_is_a_409_and_writes_nothing(database_url: str) -> None:
    shop = fresh("optimistic.py")
    async with running(shop.app) as (client, _):
        await client.post("/items", json=LAMP)
        assert (await client.patch("/items/1", json={"version": 1, "name": "first"})).is_success
        stale = await client.patch("/items/1", json={"version": 1, "name": "second"})
        assert stale.status_code == 409
        assert stale.headers["content-type"] == "application/problem+json"
        assert stale.json() == {
            "title": "Conflict",
            "status": 409,
            "detail": "You read version 1; the item is at 2.",
        }
        current = (await client.patch("/items/1", json={"version": 2})).json()
        assert current["name"] == "first"
        assert (await client.patch("/items/7", json={"version": 1})).status_code == 404


async def test_two_sessions_that_read_the_same_version(database_url: str) -> None:
    shop = fresh("optimistic.py")
    async with running(shop.app) as (_, state), state["sessions"]() as setup:
        setup.add(shop.Item(**LAMP))
        await setup.commit()
        async with state["sessions"]() as first, state["sessions"]() as second:
            mine, theirs = await first.get(shop.Item, 1), await second.get(shop.Item, 1)
            theirs.name = "theirs"
            await second.commit()
            mine.name = "mine"
            with pytest.raises(StaleDataError) as raised:
                await first.flush()
    assert str(raised.value) == (
        "UPDATE statement on table 'items' expected to update 1 row(s); 0 were matched."
    )


async def test_a_write_that_lands_in_between_is_a_409(database_url: str) -> None:
    shop = fresh("optimistic.py")

    def someone_else_writes_first(mapper: Any, connection: Any, target: Any) -> None:
        with engine.sync_engine.begin() as other:  # another connection, committed at once
            other.execute(text("UPDATE items SET name = 'theirs', version = version + 1"))

    async with running(shop.app) as (client, state):
        engine = state["engine"]
        await client.post("/items", json=LAMP)
        event.listen(shop.Item, "before_update", someone_else_writes_first, once=True)
        lost = await client.patch("/items/1", json={"version": 1, "name": "mine"})
        assert lost.status_code == 409
        assert lost.json()["detail"] == "Someone changed this item since you read it."
        kept = await client.patch("/items/1", json={"version": 2})
        assert kept.json()["name"] == "theirs"


async def test_a_duplicate_sku_is_a_409_that_shows_no_sql(database_url: str) -> None:
    shop = fresh("optimistic.py")
    async with running(shop.app) as (client, _):
        await client.post("/items", json=LAMP)
        second = await client.post("/items", json={"sku": "B-2", "name": "desk"})
        assert second.status_code == 201
        for refused in (
            await client.post("/items", json=LAMP),
            await client.patch("/items/2", json={"version": 1, "sku": "A-1"}),
        ):
            assert refused.status_code == 409
            assert refused.json()["detail"] == "Another item has the SKU 'A-1'."
            for leak in ("UNIQUE", "unique", "duplicate", "INSERT", "UPDATE", "items."):
                assert leak not in refused.text
        assert (await client.get("/docs")).status_code == 200
        assert (await client.patch("/items/2", json={"version": 1, "sku": "B-3"})).is_success


# -- rollback_fixtures.py: tests that roll back ----------------------------------------------


def run_pytest(*tests: str, cwd: Path) -> str:
    """Run the snippet's own tests in a fresh process, on the database of this check."""
    target = SNIPPETS / "rollback_fixtures.py"
    command = [sys.executable, "-m", "pytest", *(f"{target}::{test}" for test in tests)]
    command += ["-q", "-p", "no:cacheprovider", "-p", "asyncio", "-o", "asyncio_mode=auto"]
    command += ["-W", "error", "-o", "asyncio_default_fixture_loop_scope=function"]
    command += ["--rootdir", str(cwd)]
    env = {**os.environ, "PYTHONPATH": str(SNIPPETS), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=90
    )
    return done.stdout + done.stderr


TESTS_IN_ORDER = [
    "test_a_new_author_is_stored",
    "test_a_duplicate_isbn_is_refused_and_the_test_goes_on",
    "test_every_test_starts_empty",
]


async def test_the_rollback_fixtures_isolate_each_test(database_url: str, tmp_path: Path) -> None:
    for order in (TESTS_IN_ORDER, TESTS_IN_ORDER[::-1], TESTS_IN_ORDER):
        output = run_pytest(*order, cwd=tmp_path)
        assert re.search(r"\b3 passed\b", output), output
    shop = fresh("bookshop.py")
    async with database(database_url, shop) as engine:
        assert (await count_rows(engine, "authors")) == 0  # nothing was ever committed


async def commits_in_a_test_transaction(engine: AsyncEngine, module: ModuleType) -> int:
    """The fixtures' pattern by hand: two commits inside an outer transaction rolled back."""
    async with engine.begin() as connection:
        await connection.run_sync(module.Base.metadata.create_all)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(connection, join_transaction_mode="create_savepoint")
        session.add(module.Author(name="kept?"))
        await session.commit()
        session.add(module.Author(name="kept too?"))
        await session.commit()
        await session.close()
        await transaction.rollback()
    return await count_rows(engine, "authors")


async def test_the_savepoints_of_a_test_transaction(database_url: str) -> None:
    shop = fresh("bookshop.py")
    fixtures = fresh("rollback_fixtures.py")
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":
        fixtures.sqlite_savepoints(engine)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(shop.Base.metadata.create_all)
        async with engine.connect() as connection:
            transaction = await connection.begin()
            sessions = async_sessionmaker(connection, join_transaction_mode="create_savepoint")
            with sent_with_parameters(engine) as sent:
                async with sessions() as session:  # a request that commits
                    session.add(shop.Author(name="A", books=[shop.Book(isbn="1", title="x")]))
                    await session.commit()
                async with sessions() as session:  # a request that fails
                    session.add(shop.Book(isbn="1", title="again", author_id=1))
                    with pytest.raises(IntegrityError):
                        await session.flush()
                    await session.rollback()
            await transaction.rollback()
        assert (await count_rows(engine, "authors")) == 0
    finally:
        await engine.dispose()
    assert [sql for sql, _ in sent if "SAVEPOINT" in sql] == [
        "SAVEPOINT sa_savepoint_1",
        "RELEASE SAVEPOINT sa_savepoint_1",
        "SAVEPOINT sa_savepoint_2",
        "ROLLBACK TO SAVEPOINT sa_savepoint_2",
    ]


async def test_without_the_recipe_sqlite_keeps_the_commits(database_url: str) -> None:
    shop = fresh("bookshop.py")
    engine = create_engine(database_url)
    try:
        left = await commits_in_a_test_transaction(engine, shop)
    finally:
        await engine.dispose()
    assert left == (2 if backend(database_url) == "sqlite" else 0)


async def test_with_the_recipe_both_databases_roll_back(database_url: str) -> None:
    shop = fresh("bookshop.py")
    fixtures = fresh("rollback_fixtures.py")
    counting = fresh("counting.py")
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":
        fixtures.sqlite_savepoints(engine)
    try:
        assert await commits_in_a_test_transaction(engine, shop) == 0
        async with AsyncSession(engine) as session:
            with counting.count_statements(engine) as statements:
                await session.execute(select(1))
    finally:
        await engine.dispose()
    sqlite_begins = ["BEGIN"] if backend(database_url) == "sqlite" else []
    assert statements == [*sqlite_begins, "SELECT 1"]  # the recipe's BEGIN is a statement too


# -- dialects.py: SQLite against PostgreSQL --------------------------------------------------


@asynccontextmanager
async def transaction(url: str) -> AsyncIterator[Any]:
    """A connection in a transaction on a database with the `parts` table, rolled back after."""
    parts = fresh("dialects.py")
    async with database(url, parts) as engine, engine.connect() as connection:
        await connection.begin()
        yield parts, connection
        await connection.rollback()


async def test_a_statement_after_a_failed_one(database_url: str) -> None:
    async with transaction(database_url) as (parts, connection):
        if backend(database_url) == "sqlite":
            assert await parts.count_after_a_failed_insert(connection, savepoint=False) == 1
        else:
            with pytest.raises(DBAPIError, match="current transaction is aborted"):
                await parts.count_after_a_failed_insert(connection, savepoint=False)


async def test_a_savepoint_keeps_the_transaction_going_on_both(database_url: str) -> None:
    async with transaction(database_url) as (parts, connection):
        assert await parts.count_after_a_failed_insert(connection, savepoint=True) == 1


async def test_a_failed_insert_uses_up_an_id_on_postgresql(database_url: str) -> None:
    async with transaction(database_url) as (parts, connection):
        expected = 2 if backend(database_url) == "sqlite" else 3
        assert await parts.id_after_a_failed_insert(connection) == expected


async def test_the_same_integrity_error_with_different_words(database_url: str) -> None:
    async with transaction(database_url) as (parts, connection):
        error = await parts.unique_violation(connection)
    assert isinstance(error, IntegrityError)
    if backend(database_url) == "sqlite":
        assert str(error.orig) == "UNIQUE constraint failed: parts.code"
    else:
        assert type(error.orig).__name__ == "UniqueViolationError"
        assert str(error.orig).startswith(
            'duplicate key value violates unique constraint "parts_code_key"'
        )


async def test_a_string_longer_than_its_column(database_url: str) -> None:
    async with transaction(database_url) as (parts, connection):
        if backend(database_url) == "sqlite":
            assert await parts.stored_code(connection, "abcdefgh") == "abcdefgh"
        else:
            with pytest.raises(DBAPIError, match=r"value too long for type character varying\(5\)"):
                await parts.stored_code(connection, "abcdefgh")


async def test_text_in_an_integer_column(database_url: str) -> None:
    async with transaction(database_url) as (parts, connection):
        if backend(database_url) == "sqlite":
            assert await parts.stored_rank(connection, "high") == "high"
        else:
            with pytest.raises(DBAPIError):
                await parts.stored_rank(connection, "high")


async def test_a_reference_to_nothing(database_url: str) -> None:
    async with transaction(database_url) as (parts, connection):
        if backend(database_url) == "sqlite":
            assert await parts.dangling_reference(connection) == 1
        else:
            with pytest.raises(IntegrityError, match="violates foreign key constraint"):
                await parts.dangling_reference(connection)


async def test_sqlite_checks_references_after_the_pragma(database_url: str) -> None:
    if backend(database_url) != "sqlite":
        pytest.skip("a SQLite setting")
    parts = fresh("dialects.py")
    async with database(database_url, parts) as engine, engine.connect() as connection:
        await connection.exec_driver_sql("PRAGMA foreign_keys = ON")  # before any transaction
        with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
            await parts.dangling_reference(connection)


async def test_a_time_with_an_offset(database_url: str) -> None:
    paris_summer = timezone(timedelta(hours=2))
    async with transaction(database_url) as (parts, connection):
        stored = await parts.stored_time(
            connection, datetime(2026, 6, 1, 12, 0, tzinfo=paris_summer)
        )
    if backend(database_url) == "sqlite":
        assert stored == datetime(2026, 6, 1, 12, 0)  # naive, and the offset is simply gone
        assert stored.tzinfo is None
    else:
        assert stored == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
        assert stored.utcoffset() == timedelta(0)


async def test_where_nulls_sort(database_url: str) -> None:
    async with transaction(database_url) as (parts, connection):
        plain = await parts.ranks_in_order(connection)
    async with transaction(database_url) as (parts, connection):
        nulls_last = await parts.ranks_in_order(connection, nulls_last=True)
    assert plain == ([None, 1, 2] if backend(database_url) == "sqlite" else [1, 2, None])
    assert nulls_last == [1, 2, None]


async def test_like_and_letter_case(database_url: str) -> None:
    async with transaction(database_url) as (parts, connection):
        found = await parts.codes_like(connection, "ab%")
    async with transaction(database_url) as (parts, connection):
        ignoring_case = await parts.codes_like(connection, "ab%", ignore_case=True)
    assert found == (["Ab"] if backend(database_url) == "sqlite" else [])
    assert ignoring_case == ["Ab"]


async def test_for_update_is_dropped_on_sqlite(database_url: str) -> None:
    parts = fresh("dialects.py")
    counting = fresh("counting.py")
    async with database(database_url, parts) as engine, engine.begin() as connection:
        with counting.count_statements(engine) as statements:
            await connection.execute(select(parts.Part).with_for_update())
    sent = " ".join(statements[0].split())
    assert sent.endswith("FROM parts") is (backend(database_url) == "sqlite")
    assert sent.endswith("FROM parts FOR UPDATE") is (backend(database_url) == "postgresql")
