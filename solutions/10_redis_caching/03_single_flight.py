"""Single flight: concurrent misses for one product share one load."""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, HTTPException, Request
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
PRODUCT_TTL = 300  # seconds


class Base(DeclarativeBase):
    pass


class ProductRow(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    price_cents: Mapped[int]


class Product(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    price_cents: int


Flights = dict[int, asyncio.Task[Product | None]]


class State(TypedDict):
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    flights: Flights


def redis_from_env() -> Redis:
    """Given: the Redis that REDIS_URL names, or a new in-process fakeredis when it is unset."""
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(url, decode_responses=True)
    return FakeAsyncRedis(decode_responses=True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    redis = redis_from_env()
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    yield {"engine": engine, "sessions": sessions, "redis": redis, "flights": {}}
    await redis.aclose()
    await engine.dispose()


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.state.sessions


SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]


async def get_redis(request: Request) -> Redis:
    return request.state.redis


RedisDep = Annotated[Redis, Depends(get_redis)]


async def get_flights(request: Request) -> Flights:
    return request.state.flights


FlightsDep = Annotated[Flights, Depends(get_flights)]

app = FastAPI(lifespan=lifespan)


def product_key(product_id: int) -> str:
    return f"shop:v1:product:{product_id}"


async def load_product(
    sessions: async_sessionmaker[AsyncSession], redis: Redis, product_id: int
) -> Product | None:
    """Given: the product from SQL, cached for PRODUCT_TTL seconds; None when there is none."""
    async with sessions() as session:  # its own session: a shared load may outlive its request
        row = await session.get(ProductRow, product_id)
    if row is None:
        return None
    product = Product.model_validate(row)
    await redis.set(product_key(product_id), product.model_dump_json(), ex=PRODUCT_TTL)
    return product


@app.get("/products/{product_id}")
async def read_product(
    product_id: int, sessions: SessionsDep, redis: RedisDep, flights: FlightsDep
) -> Product:
    if (cached := await redis.get(product_key(product_id))) is not None:
        return Product.model_validate_json(cached)
    if (flight := flights.get(product_id)) is None:
        flight = asyncio.create_task(load_product(sessions, redis, product_id))
        flights[product_id] = flight
        flight.add_done_callback(lambda _: flights.pop(product_id))
    # every miss meanwhile awaits this one load; shield: a request that leaves cannot cancel it
    if (product := await asyncio.shield(flight)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    return product
