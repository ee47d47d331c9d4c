"""An access log that knows the user: BaseHTTPMiddleware rewritten as pure ASGI.

Task: `AccessLogMiddleware` below adds an `X-User` header to every response and writes one
access line per request, naming the user that the `authenticate` dependency found. But it
is a BaseHTTPMiddleware, and both always say "anonymous"; its line is also written before
a streamed body has been sent, and never when the app raises. Rewrite it as a pure ASGI
middleware (a class with `__call__(scope, receive, send)`) that meets the contract.

The contract (the checks rely on it):
- `app`, `current_user`, `authenticate`, `User`, `access_log` (keep these names) and the
  routes stay as they are: `authenticate` sets `current_user` to the user of a known
  `X-API-Key` ("key-ada" is ada, "key-grace" is grace) or answers 401
  `{"detail": "Unknown API key"}` with `WWW-Authenticate: ApiKey`. `GET /health` needs no
  key; `GET /me` answers `{"user": <user>}`, `GET /orders` the orders, and
  `GET /orders/export` streams them as JSON Lines, all three through `User`. The checks add
  routes of their own to `app`, some of which set `current_user` themselves.
- `AccessLogMiddleware` (keep this name) stays added by `app.add_middleware`. For each HTTP
  request:
  - Before it calls the app, it sets `current_user` to "anonymous", so every request starts
    anonymous, even when an earlier request served in the same task set a user (in-process
    test clients serve every request in the caller's task). Once it returns, `current_user`
    holds again what it held before the request, whatever that was (the default
    "anonymous", or a value the caller had set).
  - Every response it passes on carries `X-User: <user>` exactly once, where `<user>` is the
    value of `current_user` when the response starts; the response keeps its own status,
    headers and body (401, 404 and 405 answers included).
  - Each body message is passed on as soon as the app sends it: a streamed response reaches
    the client chunk by chunk.
  - Once the app has returned (after the last body message), it writes exactly one record
    at level INFO on `access_log` (the logger `shop.access`) whose message is
    `"<method> <path> <status> user=<user>"`, e.g. "GET /orders 200 user=ada": the method,
    the path without the query string, the status the response started with, and the value
    of `current_user` at that moment.
  - An unhandled error: when the app raised before any response started, the line says 500;
    when a streamed response had started, it says the status that was sent. The exception
    then goes on to the server, raised as it is. (The 500 the client gets is sent by
    ServerErrorMiddleware, outside yours: its headers are not graded.)
  - Other ASGI scopes, such as the lifespan and a websocket (the checks run both), pass
    through untouched and get no line.
"""

import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from pydantic import BaseModel
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

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


# TODO: Rewrite AccessLogMiddleware as a pure ASGI class: __init__(app), __call__(scope, ...).
# TODO: Set current_user to "anonymous" before calling the app; reset it with its token after.
# TODO: Wrap send: add X-User to http.response.start and remember the status it carries.
# TODO: Write the access line after the app returns, with 500 if no response had started.
class AccessLogMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        user = current_user.get()
        response.headers["X-User"] = user
        path, status = request.url.path, response.status_code
        access_log.info("%s %s %s user=%s", request.method, path, status, user)
        return response


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
