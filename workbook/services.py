"""The database and Redis a check's app talks to: embedded by default, real servers on demand.

Apps of the data modules read ``DATABASE_URL`` and ``REDIS_URL`` when their lifespan starts.
Unset, they fall back to embedded parts that need nothing installed: SQLite through aiosqlite,
and fakeredis's in-process server.  Set (CI sets both), every check gets its own:

* ``database_url``: a fresh, empty database per check, a SQLite file in the check's temporary
  folder, or a database created on the PostgreSQL server ``DATABASE_URL`` names and dropped
  afterwards;
* ``redis_url``: the embedded server (``None``), or a Redis database of its own for each process
  on the server ``REDIS_URL`` names (see :func:`redis_database`), emptied before each check.

Both fixtures export the URL to the environment for the app to read, and take it away again.
:func:`count_statements` counts the SQL every engine in the process sends, the way the suites
prove that a second read hits the cache or that a list costs the same at every size.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

DATABASE_URL = "DATABASE_URL"
REDIS_URL = "REDIS_URL"
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"
"""A Redis nobody answers at: port 1 on loopback refuses at once, no timeout to wait for."""
REDIS_DATABASES = 16  # a default Redis server's `databases`


def real_database_url() -> str | None:
    """The PostgreSQL server the checks run against, or None for the embedded SQLite."""
    return os.environ.get(DATABASE_URL) or None


def real_redis_url() -> str | None:
    """The Redis server the checks run against, or None for the embedded fakeredis."""
    return os.environ.get(REDIS_URL) or None


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _admin(url: str) -> Any:
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    return create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


async def create_database(server_url: str) -> str:
    """Create an empty database on the server of ``server_url``; its URL."""
    from sqlalchemy import make_url, text

    name = f"workbook_{uuid.uuid4().hex[:16]}"
    admin = _admin(server_url)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    """Drop the database of ``url``, closing whatever connections a check left open."""
    from sqlalchemy import make_url, text

    database = make_url(url).database
    server = make_url(url).set(database="postgres")
    admin = _admin(server.render_as_string(hide_password=False))
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


_claimed: list[tuple[int, int]] = []  # (database, the lock file's descriptor), held for life


def redis_database() -> int:
    """A Redis database, 1 to 15, that no other process of this machine uses meanwhile.

    Every process that checks against a real Redis claims one with a lock file (``flock``)
    that it holds until it ends: xdist workers, and the grading children that several
    ``workbook`` runs start at once, never empty each other's data.  It tries the xdist
    worker's own number first, and waits for a free one when all fifteen are taken.
    """
    if _claimed:
        return _claimed[0][0]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    first = int(worker.removeprefix("gw") or 0) % (REDIS_DATABASES - 1)
    order = [1 + (first + n) % (REDIS_DATABASES - 1) for n in range(REDIS_DATABASES - 1)]
    if sys.platform == "win32":
        return order[0]  # no flock: one process per worker is all that can be told apart
    for database in order:
        if _claim(database, wait=False):
            return database
    _claim(order[0], wait=True)
    return order[0]


def _claim(database: int, *, wait: bool) -> bool:
    """Lock ``database``'s file for the life of this process, or say it is taken."""
    import fcntl

    path = Path(tempfile.gettempdir()) / f"workbook-redis-db-{database}.lock"
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    _claimed.append((database, fd))
    return True


def worker_redis_url(server_url: str) -> str:
    from redis.asyncio.connection import parse_url

    options = parse_url(server_url)
    host, port = options.get("host", "127.0.0.1"), options.get("port", 6379)
    password = options.get("password")
    auth = f":{password}@" if password else ""
    return f"redis://{auth}{host}:{port}/{redis_database()}"


async def flush_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


@pytest.fixture
async def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A fresh, empty database for this check; ``DATABASE_URL`` names it while the check runs."""
    server = real_database_url()
    if server is None:
        url = sqlite_url(tmp_path / "app.sqlite3")
        monkeypatch.setenv(DATABASE_URL, url)
        yield url
        return
    url = await create_database(server)
    monkeypatch.setenv(DATABASE_URL, url)
    try:
        yield url
    finally:
        await drop_database(url)


@pytest.fixture
async def redis_url(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str | None]:
    """The Redis of this check, empty: a real server's database, or None for the embedded one.

    ``REDIS_URL`` names it while the check runs; it is unset for the embedded server, which
    the app's lifespan then opens in-process (the suite empties it through the app's client).
    """
    server = real_redis_url()
    if server is None:
        monkeypatch.delenv(REDIS_URL, raising=False)
        yield None
        return
    url = worker_redis_url(server)
    monkeypatch.setenv(REDIS_URL, url)
    await flush_redis(url)
    yield url


@dataclass
class Statements:
    """The SQL statements sent while a :func:`count_statements` block ran, in order."""

    sql: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.sql)

    def __len__(self) -> int:
        return len(self.sql)

    def listing(self) -> str:
        """The statements, one per line, for a failure message."""
        if not self.sql:
            return "(no statement)"
        return "\n".join(f"  {n}. {' '.join(sql.split())}" for n, sql in enumerate(self.sql, 1))


@contextmanager
def count_statements() -> Iterator[Statements]:
    """Record each statement any SQLAlchemy engine of this process sends while the block runs.

    Listening on the ``Engine`` class catches the engine an app made in its own lifespan,
    async ones included (their sync engine does the sending), so a suite needs no handle on it.
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements = Statements()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.sql.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)
