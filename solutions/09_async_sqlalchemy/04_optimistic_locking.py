"""Optimistic locking: a stale write or a taken SKU is a 409 problem, never a lost update."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, ClassVar, TypedDict

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, NonNegativeInt
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

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
    version: Mapped[int] = mapped_column()

    # every UPDATE says "WHERE version = <the one loaded>" and sets the next one;
    # when no row matches, someone wrote first, and the flush raises StaleDataError
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}


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
    try:
        await session.commit()
    except IntegrityError:
        # the unique index is the judge: a SELECT before the write could race with another one
        raise sku_taken() from None


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
    if item.version != change.version:
        raise stale(item_id)
    for field, value in change.model_dump(exclude={"version"}, exclude_none=True).items():
        setattr(item, field, value)
    try:
        await commit(session)
    except StaleDataError:
        # another write landed between our read and our UPDATE, whose WHERE matched no row
        raise stale(item_id) from None
    return ItemOut.model_validate(item)
