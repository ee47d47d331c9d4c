import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"


class Base(DeclarativeBase):
    pass


class ProductRow(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    price_cents: Mapped[int]


class ProductIn(BaseModel):
    name: str
    price_cents: int


class Product(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    price_cents: int


class State(TypedDict):
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis


def redis_from_env() -> Redis:
    """The Redis that REDIS_URL names, or a new in-process fakeredis when it is unset."""
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(url, decode_responses=True)
    return FakeAsyncRedis(decode_responses=True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    redis = redis_from_env()
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        yield {"engine": engine, "sessions": sessions, "redis": redis}
    finally:
        await redis.aclose()
        await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state.sessions() as session:
        yield session


async def get_redis(request: Request) -> Redis:
    return request.state.redis


SessionDep = Annotated[AsyncSession, Depends(get_session)]
RedisDep = Annotated[Redis, Depends(get_redis)]
