"""Errors at the right path, queries with a budget: notes for editors, no leaks, capped queries.

Task: every client reads every book's `internalNotes`, an exception's own text (SQL
included) reaches the client, and a query may be as deep and as aliased as it likes. Make
the notes an editors-only field whose refusal is an error at its path, mask unexpected
errors, and cap the depth and the aliases of a query before anything runs.

The contract (the checks rely on it):
- Given, as in module 09: the app works on the database `DATABASE_URL` names when it
  starts (the checks give each check a fresh one, SQLite or PostgreSQL); the lifespan state
  holds "engine" and "sessions" and the app creates the tables `authors (id, name)` and
  `books (id, title, author_id, internal_notes)`, which the checks fill themselves. Keep
  the models, the context getter, `Query.books` and the router at /graphql, and these
  names and values: MAX_DEPTH (4), MAX_ALIASES (10), FORBIDDEN (the refusal's message) and
  `USERS` (the token "ada-token" is an editor's, "bob-token" a reader's).
- The schema: `books: [Book!]!` lists every book ordered by title; `Book {id, title,
  author, internalNotes}`, `Author {id, name, books}` with the author's books ordered by
  title. Every answer is HTTP 200 with a JSON body `{"data": ..., "errors": [...]}`;
  `errors` is left out when there is none. An error's `locations` are not graded.
- The user is the one `USERS` gives for the request's bearer token, or none (no token, or
  an unknown one). A user whose role is "editor" reads `internalNotes` (null for a book
  without notes) with no error. For anyone else, every `internalNotes` in the answer is
  null and the rest of the data is answered as usual, and `errors` holds exactly one error
  per refused field: `{"message": FORBIDDEN, "path": [...], "extensions": {"code":
  "FORBIDDEN"}}`, where the path leads from the root field to that `internalNotes`, with
  each list index the book's position in its list, from 0 (`["books", 2,
  "internalNotes"]`). A book without notes is refused all the same.
- Any other exception raised while resolving (the database failing, say) reaches the
  client as `{"message": "Unexpected error.", "path": [...]}` and nothing else: no
  extensions, no word of the exception (when `books` itself fails, `data` is null).
  Errors raised on purpose (FORBIDDEN) and GraphQL's own errors (syntax, validation, the
  limits below) keep their message.
- Depth: a query's depth is the number of fields on its longest path from the root to a
  leaf, the leaf not counted (`{ books { title } }` is 1 deep, `{ books { author { name }
  } }` is 2), fragments counted where they are spread and introspection fields (`__schema`,
  `__type`) not counted. A query at most MAX_DEPTH deep is answered; a deeper one is
  refused: `data` is null and every error's message is `'<operation>' exceeds maximum
  operation depth of 4`, where <operation> is the operation's name, or `anonymous`.
- Aliases: a query with at most MAX_ALIASES aliases (an alias in a fragment counts each
  time the fragment is spread) is answered; one with more is refused: `data` is null and
  every error's message is `<n> aliases found. Allowed: 10`, n being the query's count.
  A query that breaks both limits gets both messages.
- A refused query runs no resolver: it sends no SQL at all.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, TypedDict

import strawberry
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
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
MAX_DEPTH = 4
MAX_ALIASES = 10
FORBIDDEN = "Only editors can read internal notes."


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
    internal_notes: Mapped[str | None]


@dataclass(frozen=True)
class User:
    name: str
    role: str


USERS = {"ada-token": User("ada", "editor"), "bob-token": User("bob", "reader")}


class Context(BaseContext):
    def __init__(self, session: AsyncSession, user: User | None) -> None:
        super().__init__()
        self.session = session
        self.user = user


@strawberry.type
class Author:
    id: int
    name: str
    books: list["Book"]


@strawberry.type
class Book:
    id: int
    title: str
    author: Author
    notes: strawberry.Private[str | None]

    # TODO: Refuse this field to anyone but an editor: FORBIDDEN, code "FORBIDDEN", at its path.
    @strawberry.field
    def internal_notes(self) -> str | None:
        return self.notes


@strawberry.type
class Query:
    @strawberry.field
    async def books(self, info: strawberry.Info[Context]) -> list[Book]:
        query = select(BookRow, AuthorRow).join(AuthorRow).order_by(BookRow.title)
        authors: dict[int, Author] = {}
        books = []
        for row, author_row in await info.context.session.execute(query):
            author = authors.setdefault(
                author_row.id, Author(id=author_row.id, name=author_row.name, books=[])
            )
            book = Book(id=row.id, title=row.title, author=author, notes=row.internal_notes)
            author.books.append(book)
            books.append(book)
        return books


# TODO: Cap the depth (MAX_DEPTH) and the aliases (MAX_ALIASES) before anything runs,
# TODO: and mask unexpected errors while keeping the messages of errors raised on purpose.
schema = strawberry.Schema(Query)


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
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]


async def get_context(session: SessionDep, bearer: BearerDep) -> Context:
    return Context(session, USERS.get(bearer.credentials) if bearer else None)


app = FastAPI(lifespan=lifespan)
app.include_router(GraphQLRouter(schema, context_getter=get_context), prefix="/graphql")
