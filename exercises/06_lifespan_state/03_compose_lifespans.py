"""Composing lifespans: run a library's lifespan and the app's own as one.

Task: FastAPI takes one lifespan, but this app has two: the metrics library ships
`metrics_lifespan`, and the app opens its database in `lifespan`. Write `combine`, which
turns any number of lifespans into one, and give the app the combination.

The contract (the checks rely on it):
- Given, keep as they are: `EVENTS`, `Metrics`, `metrics_lifespan` (the library's),
  `Database`, `lifespan` (the app's own), `get_metrics`, `get_database` and `GET /ping`.
- `combine(*lifespans)` (keep this name) takes lifespans (each a function that takes the
  app and returns an async context manager yielding a dict or `None`) and returns one
  such function. When the combined lifespan runs for an app:
  - it calls each lifespan with that app and enters them in the order given;
  - it yields one dict holding every key of every dict they yielded; a lifespan that
    yields `None` (or `{}`) adds nothing, so with nothing yielded, or no lifespans at all,
    it yields `{}`. The dicts the lifespans yielded are never changed;
  - when it ends, it exits them in the reverse order: the last entered exits first;
  - it behaves like nested `async with` blocks when something fails: an error, raised
    while they run or by one of them entering or exiting, is passed to the exit of every
    lifespan entered before it (in reverse order) and then reaches the caller as it was
    raised, not wrapped. A lifespan that fails to enter is not exited, and those after it
    are never called. When several exits fail, the caller gets the error of the failing
    lifespan entered first (it exits last), as with nested blocks;
  - a key yielded by two lifespans is an error: as soon as a lifespan yields a key that an
    earlier one yielded, the combined lifespan raises
    `ValueError("state keys yielded twice: <keys>")`, the repeated keys of that lifespan
    sorted and joined with ", " (e.g. "state keys yielded twice: cache, db"). The
    lifespans entered so far, that one included, exit first, as for any other error.
  - Each run starts afresh: the combined lifespan can run again after it ended.
- `app` (keep this name) is `FastAPI(lifespan=combine(metrics_lifespan, lifespan))`: the
  library's lifespan first, so it starts before the database and is flushed after it.
  `GET /ping` counts in the library's `Metrics` and reads the app's `Database`.
"""

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
    # TODO: Return a lifespan that enters every lifespan in order and exits them in reverse.
    # TODO: Yield one dict merging what they yielded; refuse a key yielded twice.
    return lifespans[-1]


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


# TODO: Start the library's lifespan and the app's own, the library's first.
app = FastAPI(lifespan=combine(metrics_lifespan, lifespan))


@app.get("/ping")
async def ping(
    metrics: Annotated[Metrics, Depends(get_metrics)],
    database: Annotated[Database, Depends(get_database)],
) -> dict[str, Any]:
    metrics.counts["ping"] += 1
    return {"pings": metrics.counts["ping"], "database": database.url}
