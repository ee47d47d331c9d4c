"""A stock service that reaches its inventory through one shared, bounded client."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Annotated, TypedDict

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

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
    http: httpx.AsyncClient


async def get_http(request: Request) -> httpx.AsyncClient:
    return request.state.http


HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]

router = APIRouter()


@router.get("/stock/{sku}")
async def read_stock(sku: str, http: HttpDep) -> Stock:
    try:
        response = await http.get(f"/items/{sku}")
    # a timeout is a TransportError too: catch it first, it has its own status
    except httpx.TimeoutException:
        raise Problem(504, GATEWAY_TIMEOUT) from None
    except httpx.TransportError:
        raise Problem(502, BAD_GATEWAY) from None
    if response.status_code == 404:
        raise Problem(404, NOT_FOUND)
    if response.status_code != 200:
        raise Problem(502, BAD_GATEWAY)
    try:
        return Stock.model_validate_json(response.content)
    except ValidationError:
        raise Problem(502, BAD_GATEWAY) from None


def create_app(
    upstream: str = UPSTREAM, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        # one pool for every request: the limits hold across requests, and it closes once
        async with httpx.AsyncClient(
            base_url=upstream, timeout=TIMEOUT, limits=LIMITS, transport=transport
        ) as http:
            yield {"http": http}

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    app.add_exception_handler(Problem, problem_response)
    return app


app = create_app()
