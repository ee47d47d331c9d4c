"""A book catalogue with two front doors, REST and GraphQL, over one service layer."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import strawberry
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from strawberry.fastapi import GraphQLRouter

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
    # the rule lives in the service, so neither front door can forget it
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    query = BOOKS.order_by(Book.published_year, Book.id).limit(limit)
    if author_id is not None:
        query = query.where(Book.author_id == author_id)
    return [
        BookOut.model_validate(row, from_attributes=True) for row in await session.execute(query)
    ]


async def get_book(session: AsyncSession, book_id: int) -> BookOut | None:
    row = (await session.execute(BOOKS.where(Book.id == book_id))).one_or_none()
    return None if row is None else BookOut.model_validate(row, from_attributes=True)


# derived from the model REST answers with, so the two doors cannot drift apart
@strawberry.experimental.pydantic.type(model=BookOut, all_fields=True, name="Book")
class BookType:
    pass


@strawberry.type(name="Query")
class RootQuery:
    @strawberry.field
    async def books(
        self, info: strawberry.Info, author_id: int | None = None, limit: int = DEFAULT_LIMIT
    ) -> list[BookType]:
        books = await list_books(info.context["session"], author_id=author_id, limit=limit)
        return [BookType.from_pydantic(book) for book in books]

    @strawberry.field
    async def book(self, info: strawberry.Info, id: int) -> BookType | None:
        book = await get_book(info.context["session"], id)
        return None if book is None else BookType.from_pydantic(book)


async def get_context(session: SessionDep) -> dict[str, AsyncSession]:
    return {"session": session}


schema = strawberry.Schema(query=RootQuery)
app = FastAPI(lifespan=lifespan)
app.include_router(
    GraphQLRouter(schema, context_getter=get_context, graphql_ide=None), prefix="/graphql"
)


@app.get("/books")
async def read_books(
    session: SessionDep,
    author_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> list[BookOut]:
    return await list_books(session, author_id=author_id, limit=limit)


@app.get("/books/{book_id}")
async def read_book(book_id: int, session: SessionDep) -> BookOut:
    if (book := await get_book(session, book_id)) is None:
        raise HTTPException(404, f"Book {book_id} not found.")
    return book
