from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator


class Article(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, from_attributes=True)

    title: str
    subtitle: str | None = None
    tags: list[Annotated[str, StringConstraints(to_lower=True)]] = []

    @model_validator(mode="after")
    def subtitle_differs(self) -> Self:
        if self.subtitle == self.title:
            raise ValueError("the subtitle repeats the title")
        return self
