"""A user service written for Pydantic v1, now running on Pydantic 2.

Task: migrate it to idiomatic Pydantic v2. Pydantic 2 still runs most v1 APIs, with
deprecation warnings, but some v1 settings now do nothing at all: the service imports and
serves, yet no longer keeps its contract. Make it keep the contract again, with v2 APIs only.

The contract (the checks rely on it):
- `app` (keep this name); its lifespan creates the user store.
- `POST /users` takes a user; any field it does not declare is a 422 `extra_forbidden`.
  Surrounding whitespace is stripped from every string before validation: lengths are
  counted, and the passwords compared, on the stripped strings.
  - `username`: 3 to 20 characters, otherwise Pydantic's own `string_too_short` or
    `string_too_long` error (and no other); then letters and digits only, of any script, as
    `str.isalnum()` decides (`José` is fine, `ada_l` is not), otherwise a 422 `value_error`
    with the message "Value error, username must contain only letters and digits".
  - `password`: at least 8 characters (otherwise `string_too_short`); `password_confirm`
    must equal it, otherwise one 422 error `value_error` at `["body"]` with the message
    "Value error, passwords do not match". They are compared only when every field is valid.
  - `nickname`: optional; null when it is left out.
  - `tags`: a list of strings, or one comma-separated string; each tag is lower-cased.
  It answers 201 with the stored user, `{"id", "username", "nickname", "tags"}`; ids count
  from 1.
- `GET /users/{user_id}` answers 200 with that stored user, or 404.
- Importing the module and serving requests emit no Pydantic deprecation warning, and the
  code no longer uses `@validator`, `@root_validator`, `class Config`, `Extra`, `.dict()`
  or `.from_orm()` (the check reads the code only: comments and docstrings, this one
  included, may still name them).
"""

# The v1-era typing below predates `list[str]` and `str | None`; drop this exemption with it.
# ruff: noqa: UP006, UP035, UP045

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import List, Optional

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Extra, constr, root_validator, validator


# TODO: Turn each `class Config` into `model_config = ConfigDict(...)` with v2 key names.
# TODO: Give every optional field an explicit default: v2 no longer assumes None.
class UserIn(BaseModel):
    username: constr(min_length=3, max_length=20)
    password: constr(min_length=8)
    password_confirm: str
    nickname: Optional[str]
    tags: List[str] = []

    class Config:
        extra = Extra.forbid
        anystr_strip_whitespace = True

    # TODO: Turn each `@validator` into a `@field_validator` classmethod (`pre=True` is now
    # `mode="before"`; `each_item` is gone: validate each tag through the list's item type).
    @validator("username")
    def username_alphanumeric(cls, value):
        if not value.isalnum():
            raise ValueError("username must contain only letters and digits")
        return value

    @validator("tags", pre=True)
    def split_tags(cls, value):
        return value.split(",") if isinstance(value, str) else value

    @validator("tags", each_item=True)
    def lower_tag(cls, tag):
        return tag.lower()

    # TODO: Turn `@root_validator` into `@model_validator(mode="after")`, which returns self.
    @root_validator(skip_on_failure=True)
    def passwords_match(cls, values):
        if values["password"] != values["password_confirm"]:
            raise ValueError("passwords do not match")
        return values


class UserOut(BaseModel):
    id: int
    username: str
    nickname: Optional[str]
    tags: List[str]

    class Config:
        orm_mode = True


@dataclass
class UserRow:
    id: int
    username: str
    nickname: Optional[str]
    tags: List[str]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, dict[int, UserRow]]]:
    yield {"users": {}}


app = FastAPI(lifespan=lifespan)


# TODO: Replace `.dict()` and `.from_orm()` with their v2 names.
@app.post("/users", status_code=201, response_model=UserOut)
async def create_user(user: UserIn, request: Request):
    users = request.state.users
    row = UserRow(id=len(users) + 1, **user.dict(include={"username", "nickname", "tags"}))
    users[row.id] = row
    return UserOut.from_orm(row)


@app.get("/users/{user_id}", response_model=UserOut)
async def read_user(user_id: int, request: Request):
    row = request.state.users.get(user_id)
    if row is None:
        raise HTTPException(status_code=404, detail="user not found")
    return UserOut.from_orm(row)
