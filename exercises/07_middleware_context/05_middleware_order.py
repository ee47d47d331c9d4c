"""Middleware order: the last added is the outermost, and each layer sees only what passes it.

Task: this API serves a browser front end at https://app.example.com. Each of its five layers
is right on its own, but they were added in an order that breaks the front end: the browser's
preflights are refused, and errors reach the page without the headers it needs to read them.
Put the layers in an order that meets every rule below.

The contract (the checks rely on it):
- `app` (keep this name) serves `GET /orders` through the dependency `get_orders` (keep this
  name; the checks replace it, through `app.dependency_overrides`, with one that raises, to
  cause an unhandled error).
- Keep the five layers as they are written, each added once with the same arguments:
  `ApiKeyMiddleware`, `RequestIdMiddleware`, `GZipMiddleware`, `ContentDigestMiddleware` and
  `CORSMiddleware`. Change only their order (with `app.add_middleware` the last added is the
  outermost; in `FastAPI(middleware=[...])` the first listed is). Add no other layer,
  exception handler or route, and change no class.
- A CORS preflight (`OPTIONS /orders` with `Origin: https://app.example.com`,
  `Access-Control-Request-Method: GET` and `Access-Control-Request-Headers: x-api-key`) is
  answered by `CORSMiddleware`: status 200 and `Access-Control-Allow-Origin:
  https://app.example.com`, though it carries no API key. Nothing else about it is graded.
- Any other request without the right `X-API-Key` (an `OPTIONS` that is no preflight
  included) gets `ApiKeyMiddleware`'s 401 (its body
  `{"detail": "Missing or wrong API key"}`, `WWW-Authenticate: ApiKey`).
- An unhandled error gets `RequestIdMiddleware`'s 500 (`text/plain`, `Internal Server
  Error`). FastAPI's own `ServerErrorMiddleware` sits outside every layer you add: a 500 made
  there would pass through none of them.
- With the right key, `GET /orders` answers 200 with the 20 orders, gzip-compressed
  (`Content-Encoding: gzip`) when the request sends `Accept-Encoding: gzip`, plain otherwise.
- Every answer but a preflight's (the 200s, the 401 and the 500 alike) carries:
  - `X-Request-ID`: 32 lowercase hex digits, new for each request;
  - when the request sends `Origin: https://app.example.com`:
    `Access-Control-Allow-Origin: https://app.example.com` and
    `Access-Control-Expose-Headers: X-Request-ID, Content-Digest`, so the page may read both;
  - `Content-Digest: sha-256=:<base64 of the SHA-256 of the body bytes the client
    receives>:`, that is of the compressed bytes when the body is compressed.
"""

import base64
import hashlib
import secrets
import uuid
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from pydantic import BaseModel
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_KEY = "k-7f3a9c"
ORIGIN = "https://app.example.com"


class Order(BaseModel):
    id: int
    item: str
    quantity: int


class RequestIdMiddleware:
    """A fresh X-Request-ID on every response; an unhandled error becomes a 500 right here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = ServerErrorMiddleware(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


class ApiKeyMiddleware:
    """Every request needs the X-API-Key header; without it the answer is a 401."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app, self.key = app, key

    def accepts(self, supplied: str) -> bool:
        return secrets.compare_digest(supplied.encode(), self.key.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.accepts(Headers(scope=scope).get("x-api-key", "")):
            body = {"detail": "Missing or wrong API key"}
            headers = {"WWW-Authenticate": "ApiKey"}
            response = JSONResponse(body, status_code=401, headers=headers)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ContentDigestMiddleware:
    """Content-Digest (RFC 9530): the SHA-256 of the body bytes as they leave this layer.

    Every response of this app sends its body in one message.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message = {}

        async def send_with_digest(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message  # held back until the body is known
                return
            digest = base64.b64encode(hashlib.sha256(message["body"]).digest()).decode()
            MutableHeaders(scope=start)["Content-Digest"] = f"sha-256=:{digest}:"
            await send(start)
            await send(message)

        await self.app(scope, receive, send_with_digest)


async def get_orders() -> list[Order]:
    return [Order(id=n, item="Squared notebook, A5", quantity=n) for n in range(1, 21)]


app = FastAPI()
# TODO: Reorder these calls so that every rule of the contract holds.
app.add_middleware(
    CORSMiddleware,
    allow_origins=[ORIGIN],
    allow_headers=["X-API-Key"],
    expose_headers=["X-Request-ID", "Content-Digest"],
)
app.add_middleware(ContentDigestMiddleware)
app.add_middleware(RequestIdMiddleware)
app.add_middleware(GZipMiddleware)
app.add_middleware(ApiKeyMiddleware, key=API_KEY)


@app.get("/orders")
async def list_orders(orders: Annotated[list[Order], Depends(get_orders)]) -> list[Order]:
    return orders
