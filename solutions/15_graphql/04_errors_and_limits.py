"""A catalogue whose notes only editors read, whose errors never leak, whose queries are capped."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, ClassVar, TypedDict

import strawberry
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from graphql import GraphQLError
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, QueryDepthLimiter
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.permission import BasePermission, PermissionExtension

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


class IsEditor(BasePermission):
    message = FORBIDDEN
    error_extensions: ClassVar[dict[str, Any]] = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: strawberry.Info[Context], **kwargs: Any) -> bool:
        user = info.context.user
        return user is not None and user.role == "editor"


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

    # nullable, so that a refusal nulls this field alone and the rest of the data stays
    @strawberry.field(extensions=[PermissionExtension(permissions=[IsEditor()])])
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


def unexpected(error: GraphQLError) -> bool:
    # errors raised on purpose are GraphQLErrors; validation errors have no original at all
    return not isinstance(error.original_error, GraphQLError | None)


schema = strawberry.Schema(
    Query,
    # factories, so that every request gets extensions of its own; the two limits are
    # validation rules, so a query they refuse never reaches a resolver
    extensions=[
        partial(QueryDepthLimiter, max_depth=MAX_DEPTH),
        partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        partial(MaskErrors, should_mask_error=unexpected),
    ],
)


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
