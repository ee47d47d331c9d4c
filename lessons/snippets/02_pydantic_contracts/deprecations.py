from typing import Any

from pydantic import BaseModel


class Tag(BaseModel):
    name: str


def as_dict(tag: Tag) -> dict[str, Any]:
    return tag.dict()  # deprecated since Pydantic 2.0


def field_names(tag: Tag) -> list[str]:
    return list(tag.model_fields)  # on an instance: deprecated since Pydantic 2.11
