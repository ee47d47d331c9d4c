from typing import Annotated

from pydantic import AfterValidator, BaseModel
from pydantic_core import PydanticCustomError


def no_repeats(tags: list[str]) -> list[str]:
    if len(set(tags)) != len(tags):
        raise PydanticCustomError("unique_items", "tags must not repeat")
    return tags


class Post(BaseModel):
    tags: Annotated[list[str], AfterValidator(no_repeats)]


class PostWithSet(BaseModel):
    tags: set[str]
