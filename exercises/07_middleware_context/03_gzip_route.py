"""Gzip request bodies for the routes of one router: a custom APIRoute class.

Task: the ingest clients send large JSON bodies compressed with gzip
(`Content-Encoding: gzip`). Write `GzipRoute`, an `APIRoute` subclass whose route handler
decompresses such bodies before FastAPI reads them, safely, and give it to the `ingest`
router only.

The contract (the checks rely on it):
- `app`, `ingest`, `plain`, `MAX_INFLATED` (keep these names) and the routes stay as they
  are. The routes of `ingest` (`POST /ingest/events`, a JSON list of events, and
  `POST /ingest/raw`, which reads `await request.body()`) use `GzipRoute` (keep this name);
  the routes of `plain` (`POST /plain/raw`) do not, and read every body as sent, whatever
  its `Content-Encoding`. Both `/raw` routes answer the size and SHA-256 of what they read.
- On an ingest route, the request's `Content-Encoding` header decides (its letter case
  does not count):
  - absent, empty or `identity`: the body reaches the route as sent, whatever its size and
    whatever its bytes look like;
  - `gzip` or `x-gzip`: the route (a parsed body, `request.body()`) gets the decompressed
    bytes, and FastAPI validates them as usual (a wrong field is its 422). Once it has read
    them, its request still hands on what the client sends next, so
    `request.is_disconnected()` sees a client that left (`replay`, given, does that);
  - anything else, a list of codings such as `gzip, br` included: 415
    `{"detail": "Content-Encoding must be gzip or identity"}` with the header
    `Accept-Encoding: gzip`, decided from the header before the body is read.
- A gzip body is decompressed from its start, never into more than `MAX_INFLATED` + 1
  bytes (1 MiB + 1), and the first problem met decides:
  - as soon as more than `MAX_INFLATED` bytes come out: 413
    `{"detail": "Request body is too large once decompressed"}`, whatever the rest of the
    stream holds (a body of exactly `MAX_INFLATED` bytes passes). The checks send a 16 KiB
    bomb of 16 MiB and measure the memory the app allocates while refusing it: at most
    8 MiB;
  - when the data is not one complete, valid gzip stream (not gzip, empty, cut short, a
    bad CRC): 400 `{"detail": "Request body is not valid gzip"}`.
  - Not graded: data after the end of the gzip stream, what the route sees of the
    `Content-Encoding` and `Content-Length` headers once the body is decompressed.
- The compressed size is not limited by this exercise (FastAPI's `max_body_size` can do
  that).
"""

import hashlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import Message, Receive

MAX_INFLATED = 1_048_576  # bytes a body may have once decompressed (1 MiB)


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
            # TODO: Refuse a Content-Encoding other than gzip, x-gzip, identity or none (415).
            # TODO: Decompress a gzip body with a bound (413 past MAX_INFLATED, 400 if corrupt).
            # TODO: Hand the route a request that reads the decompressed bytes (see replay).
            return await handle(request)

        return handle_inflated


class Event(BaseModel):
    name: str
    value: int


def digest(body: bytes) -> dict[str, Any]:
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


# TODO: Give the ingest router, and only it, the GzipRoute class.
ingest = APIRouter(prefix="/ingest")
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
