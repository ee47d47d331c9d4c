"""One client for the whole app: bounded, with timeouts, and closed at shutdown.

Task: this stock service asks its inventory upstream for every `GET /stock/{sku}`. It opens
a new httpx client for each request, with httpx's default timeouts and no connection
limit, and any upstream failure becomes a 500. Open one client in the lifespan, with the
given TIMEOUT and LIMITS, share it across requests, and map the upstream's failures.

The contract (the checks rely on every line):
- Given, keep these names: `UPSTREAM`, `TIMEOUT`, `LIMITS`, the details `NOT_FOUND`,
  `BAD_GATEWAY` and `GATEWAY_TIMEOUT`, `Stock`, `Problem`, `problem_response`, `router` and
  `app = create_app()` at the end.
- `create_app(upstream=UPSTREAM, transport=None)` (keep this name and signature) returns a
  new app whose lifespan opens exactly one `httpx.AsyncClient` when the app starts: none
  when the module is imported, none in `create_app`, none per request. Make it as
  `httpx.AsyncClient(...)`, looked up when the app starts (the checks count the clients
  made by replacing `httpx.AsyncClient`), with `base_url=upstream`, `timeout=TIMEOUT`,
  `limits=LIMITS` and `transport=transport`. Every request of the app uses that client; it
  stays open until the app shuts down and is closed then. An app started again opens a
  new client.
- Every request to the inventory carries TIMEOUT: 2 seconds to connect, 5 to read, to
  write and to wait for a free connection of the pool.
- LIMITS: at most 4 connections to the inventory at once; a request that finds all four
  busy waits for one (it is not refused). After a burst, 2 idle connections are kept open
  for the next requests and the others are closed. The checks see this with no transport
  injected, against a real server on 127.0.0.1 given as `upstream`: httpx applies
  `limits` to the pool it makes itself, and an injected transport brings its own.
- `GET /stock/{sku}` sends `GET {upstream}/items/{sku}` and answers by what came back:
  - 200 whose body is a valid `Stock` (a JSON object with `sku`, a string, and
    `available`, an integer; other keys are ignored): 200 `{"sku": ..., "available": ...}`
    as the inventory gave them;
  - 200 whose body is not a valid `Stock` (not JSON, a key missing, a wrong type): 502
    with `BAD_GATEWAY`;
  - 404: 404 with the detail `NOT_FOUND`;
  - any other status (another 2xx, a 3xx, another 4xx, any 5xx): 502 with `BAD_GATEWAY`;
  - `httpx.TimeoutException` (ConnectTimeout, ReadTimeout, WriteTimeout, PoolTimeout):
    504 with `GATEWAY_TIMEOUT`;
  - any other `httpx.TransportError` (ConnectError, ReadError, RemoteProtocolError, ...):
    502 with `BAD_GATEWAY`;
  - any other exception (not an `httpx.TransportError`) is not caught: it ends in a 500.
  Every 404, 502 and 504 is `raise Problem(status, detail)`: the given `problem_response`
  answers it as `application/problem+json`, `{"type": "about:blank", "title": <the
  status's reason phrase>, "status": status, "detail": detail}`.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Annotated, TypedDict

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

UPSTREAM = "http://inventory.internal"
TIMEOUT = httpx.Timeout(5.0, connect=2.0)
LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=2)
NOT_FOUND = "no such item"
BAD_GATEWAY = "the inventory service failed"
GATEWAY_TIMEOUT = "the inventory service did not answer in time"


class Stock(BaseModel):
    sku: str
    available: int


class Problem(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status, self.detail = status, detail


async def problem_response(request: Request, exc: Problem) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(exc.status).phrase,
        "status": exc.status,
        "detail": exc.detail,
    }
    return JSONResponse(body, exc.status, media_type="application/problem+json")


class State(TypedDict):
    # TODO: Hold the one shared client instead: `http: httpx.AsyncClient`.
    upstream: str
    transport: httpx.AsyncBaseTransport | None


async def get_http(request: Request) -> AsyncIterator[httpx.AsyncClient]:
    # TODO: Hand every request the one client of the lifespan state.
    async with httpx.AsyncClient(
        base_url=request.state.upstream, transport=request.state.transport
    ) as http:
        yield http


HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]

router = APIRouter()


@router.get("/stock/{sku}")
async def read_stock(sku: str, http: HttpDep) -> Stock:
    # TODO: Map the failures with raise Problem(...): timeouts 504, 404 404, the rest 502.
    response = await http.get(f"/items/{sku}")
    response.raise_for_status()
    return Stock.model_validate_json(response.content)


def create_app(
    upstream: str = UPSTREAM, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        # TODO: Open one client with TIMEOUT and LIMITS around the yield, and yield it.
        yield {"upstream": upstream, "transport": transport}

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    app.add_exception_handler(Problem, problem_response)
    return app


app = create_app()
