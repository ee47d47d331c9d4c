import strawberry
from catalogue import Author as AuthorRow
from catalogue import SessionDep, authors_by_id, lifespan, list_books
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext, GraphQLRouter


# --8<-- [start:loader]
def author_loader(session: AsyncSession) -> DataLoader[int, AuthorRow | None]:
    async def load(ids: list[int]) -> list[AuthorRow | None]:
        found = await authors_by_id(session, ids)  # one SELECT ... WHERE id IN (...)
        return [found.get(author_id) for author_id in ids]  # one value per key, in key order

    return DataLoader(load_fn=load)


class Context(BaseContext):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.session = session
        self.authors = author_loader(session)  # a new loader, and a new cache, per request


async def get_context(session: SessionDep) -> Context:
    return Context(session)


Info = strawberry.Info[Context, None]
# --8<-- [end:loader]


# --8<-- [start:types]
@strawberry.type
class Author:
    id: int
    name: str


@strawberry.type
class Book:
    id: int
    title: str
    author_id: strawberry.Private[int]

    @strawberry.field
    async def author(self, info: Info) -> Author | None:
        row = await info.context.authors.load(self.author_id)
        return None if row is None else Author(id=row.id, name=row.name)


@strawberry.type
class Query:
    @strawberry.field
    async def books(self, info: Info, limit: int = 10) -> list[Book]:
        rows = await list_books(info.context.session, limit)
        return [Book(id=row.id, title=row.title, author_id=row.author_id) for row in rows]


schema = strawberry.Schema(query=Query)
app = FastAPI(lifespan=lifespan)
app.include_router(GraphQLRouter(schema, context_getter=get_context), prefix="/graphql")
# --8<-- [end:types]


# --8<-- [start:naive]
class OneByOne:
    """What `Book.author` costs without a loader: one query per book."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def load(self, author_id: int) -> AuthorRow | None:
        return await self.session.get(AuthorRow, author_id)


async def get_context_one_by_one(session: SessionDep) -> Context:
    context = Context(session)
    context.authors = OneByOne(session)  # type: ignore[assignment]
    return context
    # --8<-- [end:naive]
