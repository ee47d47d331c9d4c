"""A quotes service whose settings, client and counters live in the lifespan state."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, TypedDict

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel


@dataclass(frozen=True)
class Settings:
    quotes_url: str = "http://quotes.internal"
    service_name: str = "quotes"


@dataclass
class Stats:
    quotes_served: int = 0


class Quote(BaseModel):
    text: str
    service: str


class State(TypedDict):
    settings: Settings
    http: httpx.AsyncClient
    stats: Stats


async def get_settings(request: Request) -> Settings:
    return request.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_http(request: Request) -> httpx.AsyncClient:
    return request.state.http


HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]


async def get_stats(request: Request) -> Stats:
    return request.state.stats


StatsDep = Annotated[Stats, Depends(get_stats)]

router = APIRouter()


@router.get("/quote")
async def quote(http: HttpDep, settings: SettingsDep, stats: StatsDep) -> Quote:
    response = await http.get("/random")
    # each request gets a copy of the state dict, but the copy points at this app's one Stats
    stats.quotes_served += 1
    return Quote(text=response.json()["text"], service=settings.service_name)


@router.get("/stats")
async def read_stats(stats: StatsDep) -> Stats:
    return stats


def create_app(
    settings: Settings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    chosen = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        async with httpx.AsyncClient(base_url=chosen.quotes_url, transport=transport) as http:
            yield {"settings": chosen, "http": http, "stats": Stats()}

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app


app = create_app()
