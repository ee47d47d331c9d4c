import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request

WEATHER = "http://weather.internal/cities/{city}"
EVENTS = "http://events.internal/cities/{city}/events"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with httpx.AsyncClient(timeout=5.0) as client:  # one client, shared by all requests
        yield {"http": client}


async def get_client(request: Request) -> httpx.AsyncClient:
    return request.state.http


ClientDep = Annotated[httpx.AsyncClient, Depends(get_client)]
app = FastAPI(lifespan=lifespan)


async def fetch_json(client: httpx.AsyncClient, url: str) -> Any:
    response = await client.get(url)
    response.raise_for_status()
    return response.json()


@app.get("/cities/{city}")
async def city_page(city: str, client: ClientDep) -> dict[str, Any]:
    try:
        async with asyncio.TaskGroup() as group:
            weather = group.create_task(fetch_json(client, WEATHER.format(city=city)))
            events = group.create_task(fetch_json(client, EVENTS.format(city=city)))
    except* httpx.HTTPError:
        raise HTTPException(502, "an upstream service failed") from None
    return {"city": city, "weather": weather.result(), "events": events.result()}
