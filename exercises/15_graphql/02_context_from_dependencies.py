"""A context built by FastAPI: the request's session and its user, in every resolver.

Task: the GraphQL router has no context of ours yet, so the resolvers cannot reach the
database or know who asks. Make `get_context` a FastAPI dependency that builds a `Context`
from the request's session (`SessionDep`) and the current user (`CurrentUserDep`), pass it
to the router as its `context_getter`, and write the resolvers that read them: `me` and the
`addBook` mutation.

The contract (the checks rely on it):
- Given, keep as they are: the lifespan (it reads `DATABASE_URL` when the app starts,
  `DEFAULT_DATABASE_URL` when it is unset, creates the tables, and disposes of the engine
  at shutdown; the checks set it to a fresh, empty database of their own, SQLite or
  PostgreSQL, and store the users and books themselves), `Base`, `User`, `Book`,
  `get_session` and `SessionDep` (one new session per request, committed when the
  request's handler returns, closed when the request is done), `bearer`,
  `get_current_user` and `CurrentUserDep` (the user whose `token` the request's
  `Authorization: Bearer <token>` header carries; `None` without that header, with
  another scheme, or with a token no user has), `UserType`, `BookType` and `books`.
- The checks replace `get_session` and `get_current_user` (keep these names) with
  `app.dependency_overrides`, and the GraphQL API must then use what the overrides give:
  so the context gets both from FastAPI, never builds them itself.
- One session per request: every dependency and resolver of one GraphQL request (the user
  lookup, `me`, `books`, each `addBook` of a mutation) uses that request's one session,
  and two requests use two sessions (the checks count the sessions that reach the
  database). Once a request is done, no connection stays checked out of the pool.
- Each request sees its own user only, even when another request is served while it
  waits (the checks hold one request back while another runs).
- The GraphQL API answers `POST /graphql` (GraphiQL off, as given):
  - `me: User` is the current user, `{"id", "name"}`, or `null` with no errors when there
    is none;
  - `books: [Book!]!` lists every book, `{"id", "title", "addedBy"}`, ordered by id;
  - the mutation `addBook(title: String!): Book!` needs a user: without one the answer is
    `"data": null` with exactly one error, whose `message` is `"Sign in to add a book."`
    (`SIGN_IN`) and whose `path` is `["addBook"]`, and nothing is stored; with one, the
    book is stored with `added_by` the user's id, committed by the time the response
    arrives, and answered with the id the database gave it.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import strawberry
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from strawberry.fastapi import BaseContext, GraphQLRouter

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///reading.sqlite3"
SIGN_IN = "Sign in to add a book."


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    token: Mapped[str] = mapped_column(unique=True)


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    added_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        yield {"sessions": async_sessionmaker(engine, expire_on_commit=False)}
    finally:
        await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state.sessions.begin() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
bearer = HTTPBearer(auto_error=False)


async def get_current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User | None:
    if credentials is None:
        return None
    return await session.scalar(select(User).where(User.token == credentials.credentials))


CurrentUserDep = Annotated[User | None, Depends(get_current_user)]


@dataclass
class Context(BaseContext):
    # TODO: Hold the request's session and its current user (None when nobody signed in).
    pass


async def get_context() -> Context:
    # TODO: Ask FastAPI for the request's session and user (SessionDep, CurrentUserDep).
    return Context()


Info = strawberry.Info[Context, None]


@strawberry.type(name="User")
class UserType:
    id: int
    name: str


@strawberry.type(name="Book")
class BookType:
    id: int
    title: str
    added_by: int


@strawberry.type
class Query:
    @strawberry.field
    async def me(self, info: Info) -> UserType | None:
        # TODO: Answer the context's user as a UserType, or None.
        return None

    @strawberry.field
    async def books(self, info: Info) -> list[BookType]:
        books = await info.context.session.scalars(select(Book).order_by(Book.id))
        return [BookType(id=book.id, title=book.title, added_by=book.added_by) for book in books]


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def add_book(self, info: Info, title: str) -> BookType:
        # TODO: Refuse with PermissionError(SIGN_IN) when the context has no user.
        # TODO: Add the book to the context's session, added by the user, and flush it.
        raise NotImplementedError


schema = strawberry.Schema(query=Query, mutation=Mutation)
app = FastAPI(lifespan=lifespan)
app.include_router(
    # TODO: Build each request's context with get_context.
    GraphQLRouter(schema, graphql_ide=None),
    prefix="/graphql",
)
