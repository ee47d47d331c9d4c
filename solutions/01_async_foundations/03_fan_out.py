"""A dashboard that asks three upstream services at once and fails fast."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

UPSTREAMS = {  # panel source -> URL, in panel order
    "profile": "http://profile.internal/users/{user_id}",
    "orders": "http://orders.internal/users/{user_id}/orders",
    "recommendations": "http://recommendations.internal/users/{user_id}",
}


class Panel(BaseModel):
    source: str
    data: Any


class Dashboard(BaseModel):
    user_id: int
    panels: list[Panel]


async def fetch(client: httpx.AsyncClient, source: str, url: str) -> Panel:
    try:
        response = await client.get(url)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError):  # a body that is not JSON is a failure too
        raise HTTPException(502, f"{source} upstream failed") from None
    return Panel(source=source, data=data)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield {"http": client}


async def get_client(request: Request) -> httpx.AsyncClient:
    return request.state.http


ClientDep = Annotated[httpx.AsyncClient, Depends(get_client)]

app = FastAPI(lifespan=lifespan)


@app.get("/dashboard/{user_id}")
async def dashboard(user_id: int, client: ClientDep) -> Dashboard:
    try:
        # all three in flight at once; the first failure cancels the calls still running
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(fetch(client, source, url.format(user_id=user_id)))
                for source, url in UPSTREAMS.items()
            ]
    except* HTTPException as failed:
        raise failed.exceptions[0] from None  # a task group wraps errors in a group
    return Dashboard(user_id=user_id, panels=[task.result() for task in tasks])
