import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"


# --8<-- [start:models]
class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    books: Mapped[list["Book"]] = relationship(back_populates="author", lazy="raise")


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    isbn: Mapped[str] = mapped_column(String(13), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    subtitle: Mapped[str | None]
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    author: Mapped[Author] = relationship(back_populates="books", lazy="raise")
    # --8<-- [end:models]


# --8<-- [start:lifespan]
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
    # --8<-- [end:lifespan]


# --8<-- [start:session]
async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state["sessions"]() as session:
        try:
            yield session
            await session.commit()
        except Exception:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
# --8<-- [end:session]


class BookIn(BaseModel):
    isbn: str
    title: str
    subtitle: str | None = None


class BookOut(BookIn):
    model_config = ConfigDict(from_attributes=True)
    id: int


class AuthorIn(BaseModel):
    name: str
    books: list[BookIn] = []


class AuthorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    books: list[BookOut]


app = FastAPI(lifespan=lifespan)


# --8<-- [start:routes]
@app.post("/authors", status_code=201)
async def create_author(data: AuthorIn, session: SessionDep) -> AuthorOut:
    author = Author(name=data.name, books=[Book(**book.model_dump()) for book in data.books])
    session.add(author)
    try:
        await session.flush()  # INSERTs now: ids for the response, constraints checked
    except IntegrityError:
        raise HTTPException(409, "A book with one of these ISBNs exists already.") from None
    return AuthorOut.model_validate(author)


@app.get("/authors")
async def list_authors(session: SessionDep) -> list[AuthorOut]:
    query = select(Author).options(selectinload(Author.books)).order_by(Author.id)
    return [AuthorOut.model_validate(author) for author in await session.scalars(query)]


@app.get("/authors/{author_id}")
async def read_author(author_id: int, session: SessionDep) -> AuthorOut:
    author = await session.get(Author, author_id, options=[selectinload(Author.books)])
    if author is None:
        raise HTTPException(404, f"There is no author {author_id}.")
    return AuthorOut.model_validate(author)
    # --8<-- [end:routes]
