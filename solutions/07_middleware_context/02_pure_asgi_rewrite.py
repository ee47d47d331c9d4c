"""An access log that knows the user: BaseHTTPMiddleware rewritten as pure ASGI."""

import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

current_user: ContextVar[str] = ContextVar("current_user", default="anonymous")
access_log = logging.getLogger("shop.access")

API_KEYS = {"key-ada": "ada", "key-grace": "grace"}


class Order(BaseModel):
    id: int
    item: str


ORDERS = [Order(id=1, item="tea"), Order(id=2, item="scones")]


async def authenticate(x_api_key: Annotated[str | None, Header()] = None) -> str:
    user = API_KEYS.get(x_api_key or "")
    if user is None:
        raise HTTPException(401, "Unknown API key", headers={"WWW-Authenticate": "ApiKey"})
    current_user.set(user)
    return user


User = Annotated[str, Depends(authenticate)]


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before it answers

        async def send_with_user(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-User"] = current_user.get()
            await send(message)

        # same task, same context: what the app sets in current_user is visible here
        token = current_user.set("anonymous")
        try:
            await self.app(scope, receive, send_with_user)
        finally:
            user = current_user.get()
            access_log.info("%s %s %s user=%s", scope["method"], scope["path"], status, user)
            current_user.reset(token)


app = FastAPI()
app.add_middleware(AccessLogMiddleware)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/me")
async def read_me(user: User) -> dict[str, str]:
    return {"user": user}


@app.get("/orders")
async def list_orders(_: User) -> list[Order]:
    return ORDERS


@app.get("/orders/export")
async def export_orders(_: User) -> AsyncIterator[Order]:
    for order in ORDERS:
        yield order
