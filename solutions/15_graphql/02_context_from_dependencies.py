"""A reading list whose GraphQL context FastAPI builds: the request's session and its user."""

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
    session: AsyncSession
    user: User | None


# a dependency like any other: FastAPI hands it the request's one session (the same one
# get_current_user got), closes that session after the request, and honours overrides
async def get_context(session: SessionDep, user: CurrentUserDep) -> Context:
    return Context(session, user)


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
        user = info.context.user
        return None if user is None else UserType(id=user.id, name=user.name)

    @strawberry.field
    async def books(self, info: Info) -> list[BookType]:
        books = await info.context.session.scalars(select(Book).order_by(Book.id))
        return [BookType(id=book.id, title=book.title, added_by=book.added_by) for book in books]


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def add_book(self, info: Info, title: str) -> BookType:
        if (user := info.context.user) is None:
            raise PermissionError(SIGN_IN)
        book = Book(title=title, added_by=user.id)
        info.context.session.add(book)
        await info.context.session.flush()
        return BookType(id=book.id, title=book.title, added_by=book.added_by)


schema = strawberry.Schema(query=Query, mutation=Mutation)
app = FastAPI(lifespan=lifespan)
app.include_router(
    GraphQLRouter(schema, context_getter=get_context, graphql_ide=None), prefix="/graphql"
)
