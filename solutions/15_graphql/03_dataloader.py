"""Books and their authors through GraphQL, the authors batched by a per-request DataLoader."""

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
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
from strawberry.dataloader import DataLoader
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
    found = {row.id: Author(id=row.id, name=row.name) for row in rows}
    # a DataLoader pairs answers with keys by position: one per id, in the order asked
    return [found.get(author_id) for author_id in ids]


class Context(BaseContext):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.session = session
        # made per request, so its cache never outlives the request that filled it
        self.authors = DataLoader(partial(load_authors, session))


@strawberry.type
class Book:
    id: int
    title: str
    author_id: strawberry.Private[int]

    @strawberry.field
    async def author(self, info: strawberry.Info[Context]) -> Author | None:
        return await info.context.authors.load(self.author_id)


@strawberry.type
class Query:
    @strawberry.field
    async def books(self, info: strawberry.Info[Context]) -> list[Book]:
        rows = await info.context.session.scalars(select(BookRow).order_by(BookRow.title))
        return [Book(id=row.id, title=row.title, author_id=row.author_id) for row in rows]

    @strawberry.field
    async def author(self, id: int, info: strawberry.Info[Context]) -> Author | None:
        return await info.context.authors.load(id)


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
