"""No N+1 through GraphQL: a book's author loaded through a DataLoader made per request.

Task: `Book.author` and the root field `author(id:)` each fetch their author with a query of
their own, so `{ books { title author { name } } }` sends one statement for the books and
one more per author. Write `load_authors`, a batch function that loads many authors in one
statement, and resolve both fields through one `DataLoader` over it, made anew for every
request in the context.

The contract (the checks rely on it):
- Given, as in module 09: the app works on the database `DATABASE_URL` names when it
  starts (the checks give each check a fresh one, SQLite or PostgreSQL); the lifespan state
  holds "engine" and "sessions" and the app creates the tables `authors (id, name)` and
  `books (id, title, author_id)`, which the checks fill themselves. The models, the GraphQL
  types, `Query.books`, `get_session` and the router at /graphql stay as they are.
- The schema: `books: [Book!]!` lists every book ordered by title as `{id, title, author}`,
  where `author` is the book's `Author {id, name}`; `author(id: Int!): Author` answers the
  author with that id, or null, with no error, when there is none.
- `load_authors(session, ids)` (keep this name and signature) answers a list with one item
  per id, in the order of `ids`: the `Author` with that id, or None when there is none. An
  id may come twice (answered twice) and the answer for one id never depends on the others.
  It sends exactly 1 statement. `ids` is never empty.
- Statement counts, with SQLAlchemy's `before_cursor_execute` event on every engine while
  a request runs (a transaction's BEGIN and COMMIT are not counted):
  `{ books { id title author { id name } } }` sends exactly 2 statements (the books, then
  all their authors at once) whether there are 1, 5 or 25 books and 1 to 13 authors, and
  exactly 1 when there is no book; `{ books { id title } }` sends exactly 1 (no author is
  loaded unless asked for); any number of `author(id:)` fields in one query, aliased, send
  exactly 1 statement between them.
- Nothing loaded outlives its request: a request sees every change stored before it
  started, even to an author that an earlier request loaded.
"""

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

import strawberry
from fastapi import Depends, FastAPI, Request
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from strawberry.fastapi import BaseContext, GraphQLRouter

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"


class Base(DeclarativeBase):
    pass


class AuthorRow(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class BookRow(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))


@strawberry.type
class Author:
    id: int
    name: str


async def load_authors(session: AsyncSession, ids: Sequence[int]) -> list[Author | None]:
    rows = await session.scalars(select(AuthorRow).where(AuthorRow.id.in_(ids)))
    # TODO: Answer one item per id, in the order of ids: the Author, or None for a missing id.
    return [Author(id=row.id, name=row.name) for row in rows]


class Context(BaseContext):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.session = session
        # TODO: Give each request its own DataLoader over load_authors and this session.


@strawberry.type
class Book:
    id: int
    title: str
    author_id: strawberry.Private[int]

    @strawberry.field
    async def author(self, info: strawberry.Info[Context]) -> Author | None:
        # TODO: Load the author through the request's DataLoader, not one query per book.
        row = await info.context.session.get(AuthorRow, self.author_id)
        return None if row is None else Author(id=row.id, name=row.name)


@strawberry.type
class Query:
    @strawberry.field
    async def books(self, info: strawberry.Info[Context]) -> list[Book]:
        rows = await info.context.session.scalars(select(BookRow).order_by(BookRow.title))
        return [Book(id=row.id, title=row.title, author_id=row.author_id) for row in rows]

    @strawberry.field
    async def author(self, id: int, info: strawberry.Info[Context]) -> Author | None:
        # TODO: Load through the request's DataLoader too, so that aliased fields batch.
        row = await info.context.session.get(AuthorRow, id)
        return None if row is None else Author(id=row.id, name=row.name)


class State(TypedDict):
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        yield {"engine": engine, "sessions": async_sessionmaker(engine, expire_on_commit=False)}
    finally:
        await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state.sessions.begin() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_context(session: SessionDep) -> Context:
    return Context(session)


schema = strawberry.Schema(Query)
app = FastAPI(lifespan=lifespan)
app.include_router(GraphQLRouter(schema, context_getter=get_context), prefix="/graphql")
