"""State from the lifespan: a quotes service with no module globals.

Task: this service makes its settings, its httpx client and its counters once, at import,
as module globals: every app shares them, the client is never closed, and it is bound to
whichever event loop uses it first. Move them into a lifespan that `create_app` gives each
app, yield them as the lifespan's state, and read them back through `request.state` in
typed dependencies.

The contract (the checks rely on it):
- `Settings`, `Stats`, `Quote`, the routes and `app = create_app()` at the end are given:
  keep them. Importing the module makes no `httpx.AsyncClient`, and neither does
  `create_app()`: a client is opened only when an app starts.
- `State` (keep this name): a `TypedDict` with exactly three fields, `settings: Settings`,
  `http: httpx.AsyncClient` and `stats: Stats`.
- `create_app(settings=None, *, transport=None)` (keep this name and signature) returns a
  new FastAPI app whose lifespan yields a `State`:
  - `settings`: the `Settings` given to `create_app`, or `Settings()` when it got `None`;
  - `http`: an `httpx.AsyncClient` opened when the app starts, with
    `base_url=settings.quotes_url` and `transport=transport` (the checks pass a fake
    quotes service); it is closed when the app shuts down;
  - `stats`: a new `Stats()`, so each start counts from 0.
  Two apps from `create_app` share nothing, and an app started a second time opens a new
  client and a new `Stats`.
- `get_settings`, `get_http`, `get_stats` (keep these names): dependencies that take the
  `Request` and return the `settings`, `http` and `stats` of the request's state;
  every request of one app run gets the same client and the same `Stats`.
- `GET /quote` sends `GET /random` through the client (the quotes service answers 200
  `{"text": ...}`), adds 1 to `stats.quotes_served`, and answers 200
  `{"text": <that text>, "service": settings.service_name}`.
- `GET /stats` answers `{"quotes_served": <quotes answered since this app started>}`:
  0 at each start, 1 more after each `GET /quote`, nothing more for anything else.
  A server hands each request its own shallow copy of the lifespan state, so a value
  assigned to `request.state` is gone when the request ends, while an object in the state
  (the one `Stats`) is shared by every request of the app.
"""

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
    # TODO: Declare one field for each value the lifespan yields: settings, http and stats.
    pass


# TODO: Remove these globals: the lifespan of each app makes its own.
settings = Settings()
http = httpx.AsyncClient(base_url=settings.quotes_url)
stats = Stats()


async def get_settings(request: Request) -> Settings:
    # TODO: Return the settings of the request's state.
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_http(request: Request) -> httpx.AsyncClient:
    # TODO: Return the client of the request's state.
    return http


HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]


async def get_stats(request: Request) -> Stats:
    # TODO: Return the Stats of the request's state.
    return stats


StatsDep = Annotated[Stats, Depends(get_stats)]

router = APIRouter()


@router.get("/quote")
async def quote(http: HttpDep, settings: SettingsDep, stats: StatsDep) -> Quote:
    response = await http.get("/random")
    stats.quotes_served += 1
    return Quote(text=response.json()["text"], service=settings.service_name)


@router.get("/stats")
async def read_stats(stats: StatsDep) -> Stats:
    return stats


def create_app(
    settings: Settings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    # TODO: Give the app a lifespan that opens the client around its yield and yields a State.
    app = FastAPI()
    app.include_router(router)
    return app


app = create_app()
