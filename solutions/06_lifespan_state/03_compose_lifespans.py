"""A library's lifespan and the app's own, composed into the one lifespan FastAPI takes."""

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from starlette.types import Lifespan

EVENTS: list[str] = []  # what the two lifespans did, in order


# --- the metrics library (given: it ships its own lifespan) ---
class Metrics:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()


@asynccontextmanager
async def metrics_lifespan(app: FastAPI) -> AsyncIterator[dict[str, Metrics]]:
    EVENTS.append("metrics start")
    try:
        yield {"metrics": Metrics()}
    finally:
        EVENTS.append("metrics flush")


# --- the app ---
class Database:
    def __init__(self, url: str) -> None:
        self.url = url


def combine(*lifespans: Lifespan[FastAPI]) -> Lifespan[FastAPI]:
    @asynccontextmanager
    async def combined(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        state: dict[str, Any] = {}
        async with AsyncExitStack() as stack:  # exits in reverse, each seeing any error
            for lifespan in lifespans:
                yielded = await stack.enter_async_context(lifespan(app)) or {}
                if twice := sorted(state.keys() & yielded.keys()):
                    raise ValueError(f"state keys yielded twice: {', '.join(twice)}")
                state.update(yielded)
            yield state

    return combined


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Database]]:
    EVENTS.append("database connect")
    try:
        yield {"database": Database("sqlite:///notes.db")}
    finally:
        EVENTS.append("database disconnect")


async def get_metrics(request: Request) -> Metrics:
    return request.state.metrics


async def get_database(request: Request) -> Database:
    return request.state.database


app = FastAPI(lifespan=combine(metrics_lifespan, lifespan))


@app.get("/ping")
async def ping(
    metrics: Annotated[Metrics, Depends(get_metrics)],
    database: Annotated[Database, Depends(get_database)],
) -> dict[str, Any]:
    metrics.counts["ping"] += 1
    return {"pings": metrics.counts["ping"], "database": database.url}
