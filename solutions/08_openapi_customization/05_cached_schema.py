"""A custom openapi(): the venue's document post-processed once, and hidden in production."""

import copy
from collections.abc import AsyncIterable, Iterable, Iterator
from typing import Any, Literal

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
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


def media_types(path_items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every Media Type Object of these path items' operations, their callbacks' included."""
    for path_item in path_items:
        for operation in path_item.values():
            for answer in [operation.get("requestBody", {}), *operation["responses"].values()]:
                yield from answer.get("content", {}).values()
            for callback in operation.get("callbacks", {}).values():
                yield from media_types(callback.values())


def postprocess(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of a generated document, valid OpenAPI 3.1 and with the venue's logo."""
    document = copy.deepcopy(document)  # the argument may be a cached document: never change it
    path_items = [*document.get("paths", {}).values(), *document.get("webhooks", {}).values()]
    for media_type in media_types(path_items):
        if "itemSchema" in media_type:  # OpenAPI 3.2 only: keep it under its 3.1 extension
            media_type["x-oai-itemSchema"] = media_type.pop("itemSchema")
    document["info"]["x-logo"] = LOGO
    return document


def create_app(settings: Settings) -> FastAPI:
    public_docs = settings.environment != "production"
    app = FastAPI(
        title="Venue API",
        version="3.0.0",
        summary="Concerts and ticket sales of the Blue Door venue.",
        openapi_tags=TAGS,
        servers=[{"url": SERVERS[settings.environment]}],
        openapi_url="/openapi.json" if public_docs else None,  # None: no /docs, no /redoc
    )
    app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:  # built on the first call, for this app only
            generated = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = postprocess(generated)
        return app.openapi_schema

    app.openapi = openapi  # what /openapi.json calls
    return app


app = create_app(Settings())
