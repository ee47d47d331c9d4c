"""Optimistic locking: a stale write or a taken SKU is a 409 problem, never a lost update.

Task: two clients read item 7 at version 1 and both send a change; today the second one
silently overwrites the first, and a sku that another item has ends in a 500 with the
database's error. Make every write say which version it read, refuse stale ones with a 409,
and turn a taken sku into a 409 too.

The contract (the checks rely on it):
- `app`, `lifespan`, `Item`, `ItemIn`, `ItemChange`, `ItemOut`, `Problem`, its handler and
  the problems `not_found`, `stale` and `sku_taken` (keep these names) are given. The
  lifespan reads `DATABASE_URL` when it starts, creates the tables and yields the state
  `{"engine": ..., "sessions": ...}`. The table `items` (keep it and its columns: `id`,
  `sku` unique, `name`, `price`, `version`) is also written by the checks, as another client
  of the same database would write it: they set `version = version + 1` with each change.
- `POST /items` `{"sku", "name", "price"}` answers 201 with the item at `"version": 1`;
  `GET /items/{id}` answers 200 with the item. An item is `{"id", "sku", "name", "price",
  "version"}`. An unknown id answers the `not_found` problem (404), for a read and for a
  PATCH whatever its version. A missing or invalid field is FastAPI's 422.
- `PATCH /items/{id}` `{"version": int, "sku"?, "name"?, "price"?}`: `version` is required
  (left out or null: 422) and is the version the client read. A field left out or null is
  left as it is; any other value is stored, `0` and `""` included.
  - Sent with the item's current version, the change is stored and the answer is 200 with
    the item. The version goes up by exactly one with every PATCH that changes a stored
    value; a PATCH that changes no stored value answers the item as it is, same version.
  - Sent with any other version (older, newer, zero or negative), the answer is the `stale`
    problem (409) and nothing is stored. The version is checked first: a stale PATCH that
    also takes another item's sku is the `stale` problem.
  - When another client commits a change to the item after this request read it and before
    this request writes it, this request answers the `stale` problem and stores nothing; the
    other client's change stays. Read the item without locking it (no FOR UPDATE).
- A sku that another item has, on POST or on PATCH, answers the `sku_taken` problem (409,
  with `"field": "sku"` and no text from the database), stores nothing, and never a 500:
  also when another client takes that sku just before this request's INSERT or UPDATE. The
  app answers the next requests as usual.
- Every problem is `application/problem+json`, with `instance` the request's path.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypedDict

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, NonNegativeInt
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://example.com/problems/"


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str]
    price: Mapped[int]
    version: Mapped[int] = mapped_column(default=1)

    # TODO: Make version SQLAlchemy's version counter, so that every UPDATE checks it.


class ItemIn(BaseModel):
    sku: str
    name: str
    price: NonNegativeInt


class ItemChange(BaseModel):
    version: int
    sku: str | None = None
    name: str | None = None
    price: NonNegativeInt | None = None


class ItemOut(ItemIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version: int


class State(TypedDict):
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield {"engine": engine, "sessions": async_sessionmaker(engine, expire_on_commit=False)}
    await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


class Problem(Exception):
    """An RFC 9457 problem; its handler adds the request's path as the instance."""

    def __init__(self, status: int, slug: str, title: str, detail: str, **extra: Any) -> None:
        self.status = status
        self.body = {"type": PROBLEMS + slug, "title": title, "status": status, "detail": detail}
        self.body |= extra


def not_found(item_id: int) -> Problem:
    return Problem(404, "not-found", "Item not found", f"Item {item_id} does not exist.")


def stale(item_id: int) -> Problem:
    detail = f"Item {item_id} has changed since you read it."
    return Problem(409, "stale-version", "Stale version", detail)


def sku_taken() -> Problem:
    detail = "Another item already has this sku."
    return Problem(409, "duplicate", "Already exists", detail, field="sku")


async def commit(session: AsyncSession) -> None:
    # TODO: Answer a taken sku with the sku_taken() problem, not a 500 with the database's text.
    await session.commit()


async def find(session: AsyncSession, item_id: int) -> Item:
    if (item := await session.get(Item, item_id)) is None:
        raise not_found(item_id)
    return item


app = FastAPI(lifespan=lifespan)


@app.exception_handler(Problem)
async def problem_response(request: Request, exc: Problem) -> JSONResponse:
    body = exc.body | {"instance": request.url.path}
    return JSONResponse(body, status_code=exc.status, media_type=PROBLEM_JSON)


@app.post("/items", status_code=201)
async def create_item(new: ItemIn, session: SessionDep) -> ItemOut:
    item = Item(**new.model_dump())
    session.add(item)
    await commit(session)
    return ItemOut.model_validate(item)


@app.get("/items/{item_id}")
async def read_item(item_id: int, session: SessionDep) -> ItemOut:
    return ItemOut.model_validate(await find(session, item_id))


@app.patch("/items/{item_id}")
async def update_item(item_id: int, change: ItemChange, session: SessionDep) -> ItemOut:
    item = await find(session, item_id)
    # TODO: Refuse a change sent with any version but the item's current one.
    for field, value in change.model_dump(exclude={"version"}, exclude_none=True).items():
        setattr(item, field, value)
    # TODO: Answer the stale problem when another write got in between this read and this write.
    await commit(session)
    return ItemOut.model_validate(item)
