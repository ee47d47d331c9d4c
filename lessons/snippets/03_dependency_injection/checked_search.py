from typing import Annotated

from fastapi import Depends, FastAPI, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel


class Search(BaseModel):
    q: str
    page: int


class CheckedSearchTerm:
    def __init__(self, min_length: int) -> None:
        self.min_length = min_length

    async def __call__(
        self, q: Annotated[str, Query(max_length=50)], page: Annotated[int, Query(ge=1)] = 1
    ) -> Search:
        if len(q) < self.min_length:  # runs only once the signature's own checks have passed
            error = {
                "type": "string_too_short",
                "loc": ("query", "q"),
                "msg": f"String should have at least {self.min_length} characters",
                "input": q,
                "ctx": {"min_length": self.min_length},
            }
            raise RequestValidationError([error])
        return Search(q=q, page=page)


people_search = CheckedSearchTerm(min_length=3)
app = FastAPI()


@app.get("/people")
async def people(search: Annotated[Search, Depends(people_search)]) -> list[str]:
    return [name for name in ("ada", "grace", "alan") if search.q in name]
