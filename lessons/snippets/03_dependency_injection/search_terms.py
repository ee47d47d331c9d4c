import inspect
from typing import Annotated

from fastapi import Depends, FastAPI, Query
from pydantic import BaseModel


class Search(BaseModel):
    q: str
    page: int


class SearchTerm:
    def __init__(self, min_length: int) -> None:
        def parameters(
            q: Annotated[str, Query(min_length=min_length, max_length=50)],
            page: Annotated[int, Query(ge=1)] = 1,
        ) -> None: ...

        # FastAPI reads parameters with inspect.signature(), which returns __signature__ if set
        self.__signature__ = inspect.signature(parameters)

    async def __call__(self, q: str, page: int) -> Search:
        return Search(q=q, page=page)


people_search = SearchTerm(min_length=3)
tag_search = SearchTerm(min_length=1)
app = FastAPI()


@app.get("/people")
async def people(search: Annotated[Search, Depends(people_search)]) -> list[str]:
    return [name for name in ("ada", "grace", "alan") if search.q in name]


@app.get("/tags")
async def tags(search: Annotated[Search, Depends(tag_search)]) -> list[str]:
    return [tag for tag in ("a", "api", "async") if tag.startswith(search.q)]
