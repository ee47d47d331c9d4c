"""One service, two front doors: a book catalogue served by REST and by GraphQL.

Task: the REST routes run their own queries, and there is no GraphQL API yet. Move the
queries into a service layer, `list_books` and `get_book`, that both front doors call; then
add a GraphQL API (Strawberry) at `/graphql` beside the REST routes that answers the same
data through that service.

The contract (the checks rely on it):
- The lifespan (given) reads `DATABASE_URL` when the app starts (`DEFAULT_DATABASE_URL` when
  it is unset; the checks set it to a fresh, empty database of their own, SQLite or
  PostgreSQL) and creates the tables; keep `Base`, `Author`, `Book`, `BookOut`,
  `get_session`, `SessionDep`, `BOOKS` and `get_context` as they are. The checks store the
  authors and books themselves.
- `list_books(session, *, author_id=None, limit=DEFAULT_LIMIT)` (keep this name) returns a
  list of `BookOut` models (keep this name): the books whose `author_id` equals the
  argument (every book when it is `None`; `0`, a negative id or an id no author has match
  no book, so the list is `[]`), ordered by `published_year`, then by `id`, the first
  `limit` of them. A `limit` below 1 or above `MAX_LIMIT` (50) raises
  `ValueError("limit must be between 1 and 50")` before any query; 1 and 50 are allowed.
  Each `BookOut` holds `id`, `title`, `published_year`, `author_id` and `author_name`
  (the name of the book's author).
- `get_book(session, book_id)` (keep this name) returns the book with that id as a
  `BookOut`, or `None` when there is none (never an error).
- REST (the routes given, which must call the service): `GET /books?author_id=&limit=`
  answers 200 with `list_books`'s list as JSON objects with the five snake_case keys;
  `limit` defaults to 20, and a limit outside 1..50 answers 422 (FastAPI's validation
  error, at `["query", "limit"]`). `GET /books/{book_id}` answers 200 with the book, or
  404 `{"detail": "Book <id> not found."}`.
- GraphQL: a `GraphQLRouter` for the schema, included in the app so that it answers
  `POST /graphql` (JSON `{"query": ...}`, answered 200 with `{"data": ...}`), with
  `get_context` as its `context_getter` (resolvers find the request's session at
  `info.context["session"]`) and GraphiQL off (`GET /graphql` with `Accept: text/html`
  answers 404). The schema's query type is named `Query` and has two fields:
  - `books(authorId: Int, limit: Int! = 20): [Book!]!`, `list_books`'s answer for the same
    arguments, field by field;
  - `book(id: Int!): Book`, `get_book`'s answer; an unknown id gives `null` and the result
    has no `errors` key at all.
  The type `Book` has the fields of `BookOut` renamed to camelCase with the same values:
  `id`, `title`, `publishedYear`, `authorId`, `authorName` (Strawberry's default naming).
  A `limit` outside 1..50 answers 200 with `"data": null` and exactly one error, whose
  `message` is `"limit must be between 1 and 50"` and whose `path` is `["books"]`.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///catalogue.sqlite3"
DEFAULT_LIMIT = 20
MAX_LIMIT = 50


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    published_year: Mapped[int]
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))


class BookOut(BaseModel):
    id: int
    title: str
    published_year: int
    author_id: int
    author_name: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        yield {"sessions": async_sessionmaker(engine)}
    finally:
        await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

BOOKS = select(
    Book.id, Book.title, Book.published_year, Book.author_id, Author.name.label("author_name")
).join(Author, Book.author_id == Author.id)


async def list_books(
    session: AsyncSession, *, author_id: int | None = None, limit: int = DEFAULT_LIMIT
) -> list[BookOut]:
    # TODO: Move the query of GET /books here, and refuse a limit outside 1..MAX_LIMIT.
    raise NotImplementedError


async def get_book(session: AsyncSession, book_id: int) -> BookOut | None:
    # TODO: Move the query of GET /books/{book_id} here: the book, or None.
    raise NotImplementedError


# TODO: Declare the GraphQL type Book from BookOut (its fields in camelCase).
# TODO: Declare the query type Query, whose books and book fields call the service.


async def get_context(session: SessionDep) -> dict[str, AsyncSession]:
    return {"session": session}


app = FastAPI(lifespan=lifespan)
# TODO: Build the schema and include a GraphQLRouter for it at /graphql, GraphiQL off.


@app.get("/books")
async def read_books(
    session: SessionDep,
    author_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> list[BookOut]:
    # TODO: Call list_books instead of querying here.
    query = BOOKS.order_by(Book.published_year, Book.id).limit(limit)
    if author_id is not None:
        query = query.where(Book.author_id == author_id)
    rows = await session.execute(query)
    return [BookOut.model_validate(row, from_attributes=True) for row in rows]


@app.get("/books/{book_id}")
async def read_book(book_id: int, session: SessionDep) -> BookOut:
    # TODO: Call get_book instead of querying here.
    row = (await session.execute(BOOKS.where(Book.id == book_id))).one_or_none()
    if row is None:
        raise HTTPException(404, f"Book {book_id} not found.")
    return BookOut.model_validate(row, from_attributes=True)
