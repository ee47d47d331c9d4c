import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, ClassVar, TypedDict

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError


class Base(DeclarativeBase):
    pass


# --8<-- [start:model]
class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column()

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}
    # --8<-- [end:model]


class State(TypedDict):
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///shop.sqlite3"))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        yield {"engine": engine, "sessions": async_sessionmaker(engine, expire_on_commit=False)}
    finally:
        await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state["sessions"]() as session:
        try:
            yield session
            await session.commit()
        except Exception:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


class ItemIn(BaseModel):
    sku: str
    name: str


class ItemPatch(BaseModel):
    version: int  # the version the client read: the write is refused if it is not current
    sku: str | None = None
    name: str | None = None


class ItemOut(ItemIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    version: int


app = FastAPI(lifespan=lifespan)


# --8<-- [start:conflicts]
class Conflict(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail


@app.exception_handler(Conflict)
async def conflict(request: Request, exc: Conflict) -> JSONResponse:
    problem = {"title": "Conflict", "status": 409, "detail": exc.detail}
    return JSONResponse(problem, status_code=409, media_type="application/problem+json")


async def flush(session: AsyncSession, sku: str) -> None:
    try:
        await session.flush()
    except StaleDataError:
        raise Conflict("Someone changed this item since you read it.") from None
    except IntegrityError:
        raise Conflict(f"Another item has the SKU {sku!r}.") from None


@app.post("/items", status_code=201)
async def create_item(data: ItemIn, session: SessionDep) -> ItemOut:
    item = Item(**data.model_dump())
    session.add(item)
    await flush(session, item.sku)
    return ItemOut.model_validate(item)


@app.patch("/items/{item_id}")
async def update_item(item_id: int, patch: ItemPatch, session: SessionDep) -> ItemOut:
    item = await session.get(Item, item_id)
    if item is None:
        raise HTTPException(404, f"There is no item {item_id}.")
    if patch.version != item.version:
        raise Conflict(f"You read version {patch.version}; the item is at {item.version}.")
    for field, value in patch.model_dump(exclude_unset=True, exclude={"version"}).items():
        setattr(item, field, value)
    await flush(session, item.sku)  # UPDATE ... WHERE id = ? AND version = ?
    return ItemOut.model_validate(item)
    # --8<-- [end:conflicts]
