import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request

WEATHER = "http://weather.internal/cities/{city}"
EVENTS = "http://events.internal/cities/{city}/events"


class UpstreamError(Exception):
    """One upstream call failed, whatever the reason."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with httpx.AsyncClient(timeout=5.0) as client:  # one client, shared by all requests
        yield {"http": client}


async def get_client(request: Request) -> httpx.AsyncClient:
    return request.state.http


ClientDep = Annotated[httpx.AsyncClient, Depends(get_client)]
app = FastAPI(lifespan=lifespan)


async def fetch_json(client: httpx.AsyncClient, url: str) -> Any:
    try:
        response = await client.get(url)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as error:  # ValueError: the body is not JSON
        raise UpstreamError(url) from error


@app.get("/cities/{city}")
async def city_page(city: str, client: ClientDep) -> dict[str, Any]:
    try:
        async with asyncio.TaskGroup() as group:
            weather = group.create_task(fetch_json(client, WEATHER.format(city=city)))
            events = group.create_task(fetch_json(client, EVENTS.format(city=city)))
    except* UpstreamError:
        raise HTTPException(502, "an upstream service failed") from None
    return {"city": city, "weather": weather.result(), "events": events.result()}
