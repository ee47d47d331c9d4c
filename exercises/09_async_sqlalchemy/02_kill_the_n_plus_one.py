"""Kill the N+1: a library whose answers cost the same number of queries at any size.

Task: each route loads its authors (or books), then awaits each one's relationship in turn:
one more query per author, so a page of 25 authors sends 26. Load what each answer needs
with eager-loading options on the route's own query instead, and declare both relationships
`lazy="raise"`, so that a relationship read without being loaded fails at once instead of
quietly sending a query.

The contract (the checks rely on it):
- The lifespan, `State`, `get_session` and `SessionDep` are given, as in the exercise
  before: the app works on the database `DATABASE_URL` names when it starts (the checks
  give each check a fresh one, SQLite or PostgreSQL) and creates the tables `authors (id,
  name)` and `books (id, title, author_id)`, which the checks fill themselves, giving every
  author a different name and every book a different title. Keep the models' columns and
  the response models as they are.
- `Author.books` and `Book.author` (keep these names) are declared `lazy="raise"`: in a
  session, reading either one on an object whose query did not load it raises
  `sqlalchemy.exc.InvalidRequestError` at once and sends no SQL. `Author.books` stays
  ordered by title.
- `GET /authors` answers every author, ordered by name, as `{"id", "name", "books"}` where
  `books` lists the author's books as `{"id", "title"}`, ordered by title (`[]` for an
  author without books; the answer is `[]` when there is no author). It sends at most 2
  SQL statements, and the same number whether there are 1, 5 or 25 authors.
- `GET /authors/{id}` answers that author in the same form, in at most 2 statements
  whatever the number of their books, or 404 `{"detail": "Author <id> not found."}`.
- `GET /books` answers every book, ordered by title, as `{"id", "title", "author": {"id",
  "name"}}`, in at most 2 statements, the same number whether the books have 1, 5 or 25
  authors.
- Statements are counted with SQLAlchemy's `before_cursor_execute` event on every engine
  while a request runs: a transaction's BEGIN and COMMIT are not counted.
"""

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import (
    AsyncAttrs,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"


class Base(AsyncAttrs, DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    # TODO: Make reading books that no query loaded raise at once, instead of loading them.
    books: Mapped[list["Book"]] = relationship(back_populates="author", order_by="Book.title")


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    # TODO: Make reading a book's author raise at once too, when no query loaded it.
    author: Mapped[Author] = relationship(back_populates="books")


class AuthorOut(BaseModel):
    id: int
    name: str


class BookOut(BaseModel):
    id: int
    title: str


class AuthorWithBooks(AuthorOut):
    books: list[BookOut]


class BookWithAuthor(BookOut):
    author: AuthorOut


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

app = FastAPI(lifespan=lifespan)


@app.get("/authors", response_model=list[AuthorWithBooks])
async def list_authors(session: SessionDep) -> Sequence[Author]:
    # TODO: Load the books of all the authors with the query: not one more query per author.
    authors = (await session.scalars(select(Author).order_by(Author.name))).all()
    for author in authors:
        await author.awaitable_attrs.books
    return authors


@app.get("/authors/{author_id}", response_model=AuthorWithBooks)
async def read_author(author_id: int, session: SessionDep) -> Author:
    # TODO: Load the author's books along with the author, with an option of session.get.
    author = await session.get(Author, author_id)
    if author is None:
        raise HTTPException(404, f"Author {author_id} not found.")
    await author.awaitable_attrs.books
    return author


@app.get("/books", response_model=list[BookWithAuthor])
async def list_books(session: SessionDep) -> Sequence[Book]:
    # TODO: Load each book's author in the same query as the books.
    books = (await session.scalars(select(Book).order_by(Book.title))).all()
    for book in books:
        await book.awaitable_attrs.author
    return books
