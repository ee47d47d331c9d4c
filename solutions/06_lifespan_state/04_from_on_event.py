"""Feature flags, started and stopped by one lifespan instead of on_event handlers."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, TypedDict

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

# --- the resources (given: do not edit) -----------------------------------------------

EVENTS: list[str] = []  # what the resources did, in order


class Database:
    """A driver with the connect/disconnect API of older database libraries."""

    async def connect(self) -> None:
        EVENTS.append("database connected")

    async def disconnect(self) -> None:
        EVENTS.append("database disconnected")

    async def load_flags(self) -> dict[str, bool]:
        EVENTS.append("flags loaded")
        return {"dark_mode": True, "new_checkout": False}


class Heartbeat:
    """Tells the load balancer that the app is alive, from start() until stop()."""

    def start(self) -> None:
        EVENTS.append("heartbeat started")

    def stop(self) -> None:
        EVENTS.append("heartbeat stopped")


# --- the app --------------------------------------------------------------------------


class Flag(BaseModel):
    name: str
    enabled: bool


@dataclass
class Stats:
    lookups: int = 0


class State(TypedDict):
    flags: dict[str, bool]
    stats: Stats


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    # the exit stack undoes what started, newest first, also when a later step fails
    async with AsyncExitStack() as stack:
        database = Database()
        await database.connect()
        stack.push_async_callback(database.disconnect)
        flags = await database.load_flags()
        heartbeat = Heartbeat()
        heartbeat.start()
        stack.callback(heartbeat.stop)
        # each request gets a shallow copy of this dict: a counter must live in an object
        yield {"flags": flags, "stats": Stats()}


async def get_flags(request: Request) -> dict[str, bool]:
    return request.state.flags


async def get_stats(request: Request) -> Stats:
    return request.state.stats


FlagsDep = Annotated[dict[str, bool], Depends(get_flags)]
StatsDep = Annotated[Stats, Depends(get_stats)]
router = APIRouter()


@router.get("/flags/{name}")
async def read_flag(name: str, flags: FlagsDep, stats: StatsDep) -> Flag:
    if name not in flags:
        raise HTTPException(404, "unknown flag")
    stats.lookups += 1
    return Flag(name=name, enabled=flags[name])


@router.get("/stats")
async def read_stats(stats: StatsDep) -> Stats:
    return stats


def create_app() -> FastAPI:
    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app
