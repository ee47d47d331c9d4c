"""Gzip request bodies for the routes of one router: a custom APIRoute class."""

import hashlib
import zlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import Message, Receive

MAX_INFLATED = 1_048_576  # bytes a body may have once decompressed (1 MiB)
GZIP_CODINGS = {"gzip", "x-gzip"}
NO_CODING = {"", "identity"}


def inflate(data: bytes, limit: int) -> bytes:
    """The decompressed gzip `data`; never makes more than `limit` + 1 bytes."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        # max_length stops a bomb after limit + 1 bytes, however far it would go
        body = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise HTTPException(400, "Request body is not valid gzip") from None
    if len(body) > limit:
        raise HTTPException(413, "Request body is too large once decompressed")
    if not inflater.eof:
        raise HTTPException(400, "Request body is not valid gzip")
    return body


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands out `body` once, then whatever the client sends next."""
    delivered = False

    async def receive_body() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_body


class GzipRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_inflated(request: Request) -> Response:
            coding = request.headers.get("content-encoding", "").lower()
            if coding in GZIP_CODINGS:
                body = inflate(await request.body(), MAX_INFLATED)
                request = Request(request.scope, replay(body, request.receive))
            elif coding not in NO_CODING:
                detail = "Content-Encoding must be gzip or identity"
                raise HTTPException(415, detail, headers={"Accept-Encoding": "gzip"})
            return await handle(request)

        return handle_inflated


class Event(BaseModel):
    name: str
    value: int


def digest(body: bytes) -> dict[str, Any]:
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


ingest = APIRouter(prefix="/ingest", route_class=GzipRoute)
plain = APIRouter(prefix="/plain")


@ingest.post("/events")
async def ingest_events(events: list[Event]) -> dict[str, int]:
    return {"count": len(events), "total": sum(event.value for event in events)}


@ingest.post("/raw")
async def ingest_raw(request: Request) -> dict[str, Any]:
    return digest(await request.body())


@plain.post("/raw")
async def plain_raw(request: Request) -> dict[str, Any]:
    return digest(await request.body())


app = FastAPI()
app.include_router(ingest)
app.include_router(plain)
