import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from bookshop import Base, Book, app, get_session
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

BOOK = {"isbn": "9780441478125", "title": "The Left Hand of Darkness"}


# --8<-- [start:recipe]
def sqlite_savepoints(engine: AsyncEngine) -> None:
    """SQLAlchemy's recipe for SQLite: SQLAlchemy, not the driver, says BEGIN."""

    def driver_stays_out(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver opens no transaction itself

    def sqlalchemy_begins(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    event.listen(engine.sync_engine, "connect", driver_stays_out)
    event.listen(engine.sync_engine, "begin", sqlalchemy_begins)

    # --8<-- [end:recipe]


# --8<-- [start:fixtures]
@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///test.sqlite3"))
    if engine.dialect.name == "sqlite":
        sqlite_savepoints(engine)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        transaction = await connection.begin()  # the test's transaction: never committed
        yield connection
        await transaction.rollback()  # every write of the test, commits included, is gone


@pytest.fixture
def sessions(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    # a session's commit releases a SAVEPOINT; its rollback goes back to it
    return async_sessionmaker(
        connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
async def client(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[httpx.AsyncClient]:
    async def session_in_the_test_transaction() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:  # still one session per request
            try:
                yield session
                await session.commit()
            except Exception:
                await session.rollback()
                raise

    app.dependency_overrides[get_session] = session_in_the_test_transaction
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        del app.dependency_overrides[get_session]
    # --8<-- [end:fixtures]


# --8<-- [start:tests]
async def test_a_new_author_is_stored(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    created = await client.post("/authors", json={"name": "Ursula", "books": [BOOK]})
    assert created.status_code == 201
    async with sessions() as session:  # the test sees what the app committed
        assert await session.scalar(select(Book.title)) == BOOK["title"]


async def test_a_duplicate_isbn_is_refused_and_the_test_goes_on(client: httpx.AsyncClient) -> None:
    assert (await client.post("/authors", json={"name": "A", "books": [BOOK]})).status_code == 201
    assert (await client.post("/authors", json={"name": "B", "books": [BOOK]})).status_code == 409
    listed = await client.get("/authors")
    assert [author["name"] for author in listed.json()] == ["A"]


async def test_every_test_starts_empty(client: httpx.AsyncClient) -> None:
    assert (await client.get("/authors")).json() == []
    # --8<-- [end:tests]
