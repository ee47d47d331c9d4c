"""Moves to ConfigDict but keeps the v1 key anystr_strip_whitespace, which v2 ignores."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Self

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator, model_validator

Tag = Annotated[str, StringConstraints(to_lower=True)]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", anystr_strip_whitespace=True)

    username: Annotated[str, StringConstraints(min_length=3, max_length=20)]
    password: Annotated[str, StringConstraints(min_length=8)]
    password_confirm: str
    # v2 stopped giving Optional fields a None default: without `= None` it is required
    nickname: str | None = None
    tags: list[Tag] = []

    @field_validator("username")
    @classmethod
    def username_alphanumeric(cls, value: str) -> str:
        if not value.isalnum():
            raise ValueError("username must contain only letters and digits")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def split_tags(cls, value: Any) -> Any:
        return value.split(",") if isinstance(value, str) else value

    @model_validator(mode="after")
    def passwords_match(self) -> Self:
        if self.password != self.password_confirm:
            raise ValueError("passwords do not match")
        return self


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    nickname: str | None
    tags: list[str]


@dataclass
class UserRow:
    id: int
    username: str
    nickname: str | None
    tags: list[str]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, dict[int, UserRow]]]:
    yield {"users": {}}


app = FastAPI(lifespan=lifespan)


@app.post("/users", status_code=201)
async def create_user(user: UserIn, request: Request) -> UserOut:
    users = request.state.users
    row = UserRow(id=len(users) + 1, **user.model_dump(include={"username", "nickname", "tags"}))
    users[row.id] = row
    return UserOut.model_validate(row)


@app.get("/users/{user_id}")
async def read_user(user_id: int, request: Request) -> UserOut:
    if (row := request.state.users.get(user_id)) is None:
        raise HTTPException(status_code=404, detail="user not found")
    return UserOut.model_validate(row)
