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
    path_items = [*document.get("paths", {}).values(), *document.get("webhooks", {}).values()]
    while path_items:
        path_item = path_items.pop()
        for method in METHODS & path_item.keys():
            operation = path_item[method]
            for answer in [operation.get("requestBody", {}), *operation["responses"].values()]:
                yield from answer.get("content", {}).values()
            for callback in operation.get("callbacks", {}).values():
                path_items.extend(callback.values())


def postprocess(document: dict[str, Any]) -> dict[str, Any]:
    """The generated document, made valid OpenAPI 3.1 and given a logo."""
    document = copy.deepcopy(document)
    for media_type in media_types(document):
        if "itemSchema" in media_type:  # OpenAPI 3.2 only: keep it under its 3.1 extension
            media_type["x-oai-itemSchema"] = media_type.pop("itemSchema")
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
