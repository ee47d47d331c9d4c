# A Pydantic v1 model, as it was written: Pydantic 2 still imports it, with warnings.
# ruff: noqa: UP045
# --8<-- [start:model]
from typing import Optional

from pydantic import BaseModel, root_validator, validator


class Article(BaseModel):
    title: str
    subtitle: Optional[str]
    tags: list[str] = []

    class Config:
        anystr_strip_whitespace = True
        orm_mode = True
        allow_mutation = False

    @validator("tags", each_item=True)
    def lower_tag(cls, tag):
        return tag.lower()

    @root_validator(skip_on_failure=True)
    def subtitle_differs(cls, values):
        if values["subtitle"] == values["title"]:
            raise ValueError("the subtitle repeats the title")
        return values


# --8<-- [end:model]
