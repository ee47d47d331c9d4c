"""A custom openapi(): the venue's document post-processed once, and hidden in production.

Task: the venue's document (`GET /openapi.json`) is refused by the partners' OpenAPI 3.1
tools: FastAPI describes the items of the JSON Lines and Server-Sent Events routes with
`itemSchema`, a member that only OpenAPI 3.2 has. The docs team also wants the venue's
logo in it (ReDoc's `x-logo`), and in production nobody may read the document at all.
Write the post-processing, make every app built by `create_app` serve the processed
document, built once, and hide the document and its pages in production.

The contract (the checks rely on it):
- `Settings`, `LOGO`, `SERVERS`, `TAGS`, the models, `CONCERTS`, `SALES`, `router` and its
  routes are given (keep these names, and keep them as they are). `Settings` reads
  `VENUE_ENVIRONMENT`, one of "development" (the default), "staging" or "production";
  any other value fails with a `pydantic.ValidationError` before an app is built.
- `postprocess(document)` (keep this name) takes an OpenAPI document shaped like the ones
  FastAPI generates (each path item maps methods to operations, and each operation has
  `responses`) and returns the processed copy:
  - `info["x-logo"]` is `LOGO` (replacing any `x-logo` already there);
  - in every Media Type Object (each value of a `content`) of the request body and of the
    responses of every operation under `paths` and under `webhooks`, and of the operations
    of their `callbacks` (a webhook's too, at any depth), an `itemSchema` member is renamed
    `x-oai-itemSchema`, its value unchanged. That is OpenAPI 3.1's registered extension
    for the schema of each item of a stream;
  - nothing else changes: other members named `itemSchema` (a model's property, say) stay
    as they are, and a document may lack `paths`, `webhooks` or `components`;
  - the argument itself is never changed, at any depth: it may be a document another
    part of the program caches.
- `create_app(settings)` (keep this name) returns a new app (a `FastAPI`) every time, with
  the given metadata (title, version, summary, `TAGS`, the one server of
  `SERVERS[settings.environment]`) and the given routes, which keep answering as they do now
  in every environment. Its document:
  - `app.openapi()`, in every environment, returns `postprocess(...)` of the document
    FastAPI generates for the app, with all of the app's metadata: `info` with title,
    version, summary and the logo, `servers`, `tags`, `paths` and `components`. It is valid
    OpenAPI 3.1 (`openapi_spec_validator.validate` accepts it);
  - it is built once per app: however many times `app.openapi()` is called and
    `/openapi.json`, `/docs` and `/redoc` are requested, in any order, FastAPI's
    `get_openapi` and `postprocess` each run exactly once for that app, and a second app
    builds its own. The checks count the calls of `fastapi.openapi.utils.get_openapi`,
    wherever your module calls it from (FastAPI's own `openapi()` calls it too), and of
    `postprocess`, which they replace in your module with a counting wrapper: call it by
    its name. Not graded: what happens when routes are added after the first build.
  - in "development" and "staging": `GET /openapi.json` answers 200 with that document,
    and `GET /docs`, `GET /docs/oauth2-redirect` and `GET /redoc` answer 200, the two pages
    loading `/openapi.json`;
  - in "production": `GET /openapi.json`, `GET /docs`, `GET /docs/oauth2-redirect` and
    `GET /redoc` answer 404, and every route still answers.
"""

from collections.abc import AsyncIterable
from typing import Any, Literal

from fastapi import APIRouter, FastAPI
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

LOGO = {"url": "https://venue.example.com/logo.png", "altText": "Blue Door venue"}
SERVERS = {
    "development": "http://localhost:8000",
    "staging": "https://staging.api.venue.example.com",
    "production": "https://api.venue.example.com",
}
TAGS = [
    {"name": "concerts", "description": "What is on, and when."},
    {"name": "sales", "description": "Tickets as they sell."},
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VENUE_")

    environment: Literal["development", "staging", "production"] = "development"


class Concert(BaseModel):
    id: str
    artist: str


class Sale(BaseModel):
    concert_id: str
    seats: int


CONCERTS = [Concert(id="c-1", artist="Nina Simone"), Concert(id="c-2", artist="Bill Evans")]
SALES = [Sale(concert_id="c-1", seats=2), Sale(concert_id="c-2", seats=1)]

router = APIRouter()


@router.get("/concerts", tags=["concerts"])
async def list_concerts() -> list[Concert]:
    return CONCERTS


@router.get("/concerts.jsonl", tags=["concerts"])
async def export_concerts() -> AsyncIterable[Concert]:
    for concert in CONCERTS:
        yield concert


@router.get("/sales/live", tags=["sales"], response_class=EventSourceResponse)
async def live_sales() -> AsyncIterable[Sale]:
    for sale in SALES:
        yield sale


def postprocess(document: dict[str, Any]) -> dict[str, Any]:
    # TODO: Return a changed copy: the logo in info, every itemSchema renamed x-oai-itemSchema.
    return document


def create_app(settings: Settings) -> FastAPI:
    # TODO: Serve no document and no docs pages in production.
    app = FastAPI(
        title="Venue API",
        version="3.0.0",
        summary="Concerts and ticket sales of the Blue Door venue.",
        openapi_tags=TAGS,
        servers=[{"url": SERVERS[settings.environment]}],
    )
    app.include_router(router)
    # TODO: Make app.openapi() build the document once, pass it through postprocess, and keep it.
    return app


app = create_app(Settings())
