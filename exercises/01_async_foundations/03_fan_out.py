"""Fan out: build a dashboard from three upstream services called at the same time.

GET /dashboard/{user_id} asks three services for their part of the page. Called one after
another, the page takes as long as the three together; called at once, only as long as
the slowest. Make the calls concurrent, and fail fast when one of them fails.

The contract (the checks rely on it):
- `app` (keep this name): the FastAPI app.
- `get_client` (keep this name): the dependency that hands endpoints the shared
  httpx.AsyncClient: one client for every request, opened in the lifespan and closed when
  the app shuts down (given: keep it so). The checks override it with a client whose
  transport fakes the three services, so make every upstream call through it.
- `UPSTREAMS` (given): each panel's source and URL, in panel order.
- GET /dashboard/{user_id} calls the three URLs (user id filled in) concurrently: all
  three requests are in flight at the same time. It answers 200
  {"user_id": ..., "panels": [{"source": ..., "data": <that upstream's JSON>}, ...]}
  with the panels in UPSTREAMS order, whichever upstream answers first.
- An upstream fails when its call raises a transport error (httpx.TransportError: it
  cannot be reached, it times out, ...), when it answers with any status outside
  200-299 (a 3xx fails like a 4xx or a 5xx: redirects are not followed), or when its
  body is not JSON. Whatever fails, and however many, the answer is a 502, never a 500.
- On the first failure it answers 502 {"detail": "<source> upstream failed"} at once,
  naming the upstream that failed first: the calls still in flight are cancelled, not
  awaited, and a failure that comes after the first is not the one named.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Request
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
    # TODO: Call the three upstreams at the same time in a task group, not one by one.
    # TODO: Answer 502 {"detail": "<source> upstream failed"} as soon as an upstream fails.
    panels = []
    for source, url in UPSTREAMS.items():
        response = await client.get(url.format(user_id=user_id))
        panels.append(Panel(source=source, data=response.json()))
    return Dashboard(user_id=user_id, panels=panels)
