from typing import Annotated, Any

import strawberry
from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.fastapi import GraphQLRouter

EDITORS = {"token-alice"}
MAX_DEPTH = 4
AUTHORS = {1: "Ursula K. Le Guin", 2: "Octavia E. Butler"}
BOOKS = [  # (id, title, author id, internal notes)
    (1, "The Dispossessed", 1, "reprint in May"),
    (2, "Kindred", 2, "cover to redo"),
]
bearer = HTTPBearer(auto_error=False)


async def get_context(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> dict[str, Any]:
    return {"editor": credentials is not None and credentials.credentials in EDITORS}


# --8<-- [start:permission]
class IsEditor(strawberry.BasePermission):
    message = "Only editors can read internal notes."
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return bool(info.context["editor"])


@strawberry.type
class Book:
    id: int
    title: str
    author_id: strawberry.Private[int]
    internal_notes: str | None = strawberry.field(permission_classes=[IsEditor])

    @strawberry.field
    def author(self) -> "Author":
        return Author(id=self.author_id, name=AUTHORS[self.author_id])
        # --8<-- [end:permission]


@strawberry.type
class Author:
    id: int
    name: str

    @strawberry.field
    def books(self) -> list[Book]:
        return [book for book in all_books() if book.author_id == self.id]


def all_books() -> list[Book]:
    return [Book(id=i, title=t, author_id=a, internal_notes=n) for i, t, a, n in BOOKS]


@strawberry.type
class Query:
    @strawberry.field
    def books(self) -> list[Book]:
        return all_books()

    @strawberry.field
    def sales_report(self) -> str:
        raise RuntimeError("could not connect to server at 10.0.4.7:5432, user 'sales_rw'")


# --8<-- [start:limits]
def unexpected(error: GraphQLError) -> bool:
    """Mask what a resolver did not raise on purpose; keep validation and GraphQLErrors."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


schema = strawberry.Schema(
    query=Query,
    extensions=[
        lambda: MaskErrors(should_mask_error=unexpected),
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=10),
        lambda: MaxTokensLimiter(max_token_count=500),
    ],
)
app = FastAPI()
app.include_router(GraphQLRouter(schema, context_getter=get_context), prefix="/graphql")
# --8<-- [end:limits]
