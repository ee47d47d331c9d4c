from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request

log: list[str] = []


class Metrics:
    def __init__(self) -> None:
        self.requests = 0


# --8<-- [start:by-hand]
@asynccontextmanager  # shipped by a library: you import it, you do not edit it
async def metrics_lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
    log.append("metrics: start")
    try:
        yield {"metrics": Metrics(), "service": "metrics"}
    finally:
        log.append("metrics: stop")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
    async with metrics_lifespan(app) as library_state:
        log.append("db: open")
        try:
            yield {**library_state, "db": "a connection"}
        finally:
            log.append("db: close")


app = FastAPI(lifespan=lifespan)
# --8<-- [end:by-hand]


# --8<-- [start:router]
@asynccontextmanager
async def orders_lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
    log.append("db: open")
    try:
        yield {"db": "a connection", "service": "orders"}
    finally:
        log.append("db: close")


metrics_router = APIRouter(lifespan=metrics_lifespan)
routed = FastAPI(lifespan=orders_lifespan)
routed.include_router(metrics_router)


@routed.get("/service")
async def service(request: Request) -> dict[str, object]:
    return {"service": request.state.service, "keys": sorted(request.state)}
    # --8<-- [end:router]
