import copy
from collections.abc import AsyncIterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
LOGO = {"url": "https://bookshop.example/logo.png", "altText": "Bookshop"}


class Book(BaseModel):
    isbn: str
    title: str


# --8<-- [start:postprocess]
def media_types(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Media Type Object of the document's operations, webhooks and callbacks."""
    pending = [*document.get("paths", {}).values(), *document.get("webhooks", {}).values()]
    while pending:
        item = pending.pop()
        for operation in (item[verb] for verb in METHODS & item.keys()):
            bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
            for body in bodies:
                yield from body.get("content", {}).values()
            for callback in operation.get("callbacks", {}).values():
                pending.extend(callback.values())  # a callback holds path items of its own


def postprocess(document: dict[str, Any]) -> dict[str, Any]:
    """The generated document, made valid OpenAPI 3.1 and given a logo."""
    document = copy.deepcopy(document)
    for media in media_types(document):
        if "itemSchema" in media:  # a 3.2 keyword: 3.1 readers accept it as an extension
            media["x-oai-itemSchema"] = media.pop("itemSchema")
    document["info"]["x-logo"] = LOGO
    return document


# --8<-- [end:postprocess]
# --8<-- [start:app]
def create_app() -> FastAPI:
    app = FastAPI(title="Bookshop API", version="2.4.0", summary="Books of a small bookshop.")

    @app.get("/books.jsonl")
    async def export_books() -> AsyncIterable[Book]:
        yield Book(isbn="9780441013593", title="Dune")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:  # built on the first call, reused by every later one
            document = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            app.openapi_schema = postprocess(document)
        return app.openapi_schema

    app.openapi = openapi  # what /openapi.json calls
    return app


app = create_app()
# --8<-- [end:app]
