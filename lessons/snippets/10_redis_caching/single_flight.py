import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import catalogue
from cache_aside import PRODUCT_TTL, product_key
from catalogue import Product, ProductRow, RedisDep, State
from fastapi import Depends, FastAPI, HTTPException, Request

T = TypeVar("T")


class SingleFlight:
    """At most one load per key at a time; callers that arrive meanwhile share its outcome."""

    def __init__(self) -> None:
        self._loads: dict[str, asyncio.Future[Any]] = {}

    async def run(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        if (flight := self._loads.get(key)) is None:
            flight = asyncio.ensure_future(load())
            self._loads[key] = flight
            flight.add_done_callback(lambda _: self._loads.pop(key, None))
        return await asyncio.shield(flight)  # a cancelled caller leaves the load running


class FlightState(State):
    flights: SingleFlight


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[FlightState]:
    async with catalogue.lifespan(app) as state:
        yield {**state, "flights": SingleFlight()}


async def get_flights(request: Request) -> SingleFlight:
    return request.state.flights


app = FastAPI(lifespan=lifespan)


@app.get("/products/{product_id}")
async def read_product(
    product_id: int,
    request: Request,
    redis: RedisDep,
    flights: Annotated[SingleFlight, Depends(get_flights)],
) -> Product:
    key = product_key(product_id)
    if (cached := await redis.get(key)) is not None:
        return Product.model_validate_json(cached)

    async def load() -> Product | None:
        async with request.state.sessions() as session:  # its own session: it may outlive us
            row = await session.get(ProductRow, product_id)
        if row is None:
            return None
        product = Product.model_validate(row)
        await redis.set(key, product.model_dump_json(), ex=PRODUCT_TTL)
        return product

    if (product := await flights.run(key, load)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    return product
