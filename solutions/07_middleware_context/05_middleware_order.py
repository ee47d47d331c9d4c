"""Middleware order: the last added is the outermost, and each layer sees only what passes it."""

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
# the last added is the outermost: CORS and the digest must wrap every layer that answers
# by itself (the guard's 401, the request id's 500), and the digest must see gzip's bytes
app.add_middleware(ApiKeyMiddleware, key=API_KEY)
app.add_middleware(RequestIdMiddleware)
app.add_middleware(GZipMiddleware)
app.add_middleware(ContentDigestMiddleware)
app.add_middleware(
    CORSMiddleware,
    allow_origins=[ORIGIN],
    allow_headers=["X-API-Key"],
    expose_headers=["X-Request-ID", "Content-Digest"],
)


@app.get("/orders")
async def list_orders(orders: Annotated[list[Order], Depends(get_orders)]) -> list[Order]:
    return orders
