from typing import Annotated

import strawberry
from catalogue import MAX_LIMIT, SessionDep, get_book, lifespan, list_books
from catalogue import Book as BookRow
from fastapi import APIRouter, FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.fastapi import BaseContext, GraphQLRouter


# --8<-- [start:rest]
class BookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    author_id: int


rest = APIRouter()


@rest.get("/books")
async def rest_books(
    session: SessionDep, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10
) -> list[BookOut]:
    return [BookOut.model_validate(book) for book in await list_books(session, limit)]


@rest.get("/books/{book_id}")
async def rest_book(book_id: int, session: SessionDep) -> BookOut:
    book = await get_book(session, book_id)
    if book is None:
        raise HTTPException(404, f"There is no book {book_id}.")
    return BookOut.model_validate(book)
    # --8<-- [end:rest]


# --8<-- [start:graphql]
class Context(BaseContext):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.session = session


async def get_context(session: SessionDep) -> Context:
    return Context(session)


Info = strawberry.Info[Context, None]


@strawberry.type
class Book:
    id: int
    title: str
    author_id: int

    @classmethod
    def from_row(cls, row: BookRow) -> "Book":
        return cls(id=row.id, title=row.title, author_id=row.author_id)


@strawberry.type
class Query:
    @strawberry.field
    async def books(self, info: Info, limit: int = 10) -> list[Book]:
        return [Book.from_row(row) for row in await list_books(info.context.session, limit)]

    @strawberry.field
    async def book(self, info: Info, id: int) -> Book | None:
        row = await get_book(info.context.session, id)
        return None if row is None else Book.from_row(row)


schema = strawberry.Schema(query=Query)


def create_app(*, graphiql: bool = False) -> FastAPI:
    app = FastAPI(lifespan=lifespan)
    app.include_router(rest)
    graphql = GraphQLRouter(
        schema, context_getter=get_context, graphql_ide="graphiql" if graphiql else None
    )
    app.include_router(graphql, prefix="/graphql")
    return app


app = create_app()
# --8<-- [end:graphql]
