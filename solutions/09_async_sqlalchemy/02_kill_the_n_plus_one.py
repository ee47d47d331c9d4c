"""Authors and their books, each answer loaded in a fixed number of queries."""

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    # lazy="raise": reading books that no query loaded fails at once, never a hidden query
    books: Mapped[list["Book"]] = relationship(
        back_populates="author", lazy="raise", order_by="Book.title"
    )


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    author: Mapped[Author] = relationship(back_populates="books", lazy="raise")


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
    # selectinload: one more query fetches the books of all these authors at once
    query = select(Author).options(selectinload(Author.books)).order_by(Author.name)
    return (await session.scalars(query)).all()


@app.get("/authors/{author_id}", response_model=AuthorWithBooks)
async def read_author(author_id: int, session: SessionDep) -> Author:
    author = await session.get(Author, author_id, options=[selectinload(Author.books)])
    if author is None:
        raise HTTPException(404, f"Author {author_id} not found.")
    return author


@app.get("/books", response_model=list[BookWithAuthor])
async def list_books(session: SessionDep) -> Sequence[Book]:
    # joinedload: each book has one author, so it comes in the same query, joined
    query = select(Book).options(joinedload(Book.author)).order_by(Book.title)
    return (await session.scalars(query)).all()
