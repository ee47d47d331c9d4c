from dataclasses import dataclass
from typing import Annotated

import strawberry
from catalogue import Author, Book, SessionDep, lifespan
from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.fastapi import BaseContext, GraphQLRouter


@dataclass(frozen=True)
class User:
    username: str
    editor: bool = False


TOKENS = {"token-alice": User("alice", editor=True), "token-bob": User("bob")}
bearer = HTTPBearer(auto_error=False)


# --8<-- [start:context]
async def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User | None:
    return None if credentials is None else TOKENS.get(credentials.credentials)


class Context(BaseContext):
    def __init__(self, session: AsyncSession, user: User | None) -> None:
        super().__init__()
        self.session = session
        self.user = user


async def get_context(
    session: SessionDep, user: Annotated[User | None, Depends(current_user)]
) -> Context:
    return Context(session, user)


Info = strawberry.Info[Context, None]
# --8<-- [end:context]


# --8<-- [start:schema]
@strawberry.type(name="User")
class UserType:
    username: str
    editor: bool


@strawberry.type
class Query:
    @strawberry.field
    def me(self, info: Info) -> UserType | None:
        user = info.context.user
        return None if user is None else UserType(username=user.username, editor=user.editor)


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def add_author(self, info: Info, name: str, titles: list[str]) -> int:
        if info.context.user is None:
            raise GraphQLError("Sign in to add authors.", extensions={"code": "UNAUTHENTICATED"})
        session = info.context.session
        async with session.begin_nested():  # a failure below undoes this mutation's writes
            author = Author(name=name)
            session.add(author)
            await session.flush()
            for title in titles:
                if not title.strip():
                    raise ValueError("A title cannot be blank.")
                session.add(Book(title=title, author_id=author.id))
            await session.flush()
        return author.id


schema = strawberry.Schema(query=Query, mutation=Mutation)
app = FastAPI(lifespan=lifespan)
app.include_router(GraphQLRouter(schema, context_getter=get_context), prefix="/graphql")
# --8<-- [end:schema]
