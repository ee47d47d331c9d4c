# --8<-- [start:bulkhead]
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request


class Upstream:
    """A stand-in for a fragile service: counts the calls in flight, answers when released."""

    def __init__(self) -> None:
        self.in_flight = self.peak = 0
        self.released = anyio.Event()
        self.down = False

    async def fetch(self, item: str) -> str:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await self.released.wait()
            if self.down:
                raise HTTPException(status_code=502, detail="upstream failed")
            return f"{item}: ok"
        finally:
            self.in_flight -= 1


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Upstream]]:
    yield {"upstream": Upstream()}


async def get_upstream(request: Request) -> AsyncIterator[Upstream]:
    yield request.state.upstream  # a yield: the slot stays taken until the exit code has run


UpstreamDep = Annotated[Upstream, Depends(get_upstream, max_concurrency=3)]
app = FastAPI(lifespan=lifespan)


@app.get("/quotes/{symbol}")
async def quote(symbol: str, upstream: UpstreamDep) -> dict[str, str]:
    return {"quote": await upstream.fetch(symbol)}


@app.get("/news/{topic}")
async def news(topic: str, upstream: UpstreamDep) -> dict[str, str]:
    return {"news": await upstream.fetch(topic)}


@app.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


# --8<-- [end:bulkhead]


# --8<-- [start:mistakes]
async def get_upstream_plain(request: Request) -> Upstream:
    return request.state.upstream  # a return: the slot is free again before the endpoint runs


@app.get("/plain/{item}")
async def plain(
    item: str, upstream: Annotated[Upstream, Depends(get_upstream_plain, max_concurrency=3)]
) -> dict[str, str]:
    return {"plain": await upstream.fetch(item)}


@app.get("/inline/{item}")
async def inline(
    item: str, upstream: Annotated[Upstream, Depends(get_upstream, max_concurrency=3)]
) -> dict[str, str]:  # a second Depends(...) object: a second limit of 3
    return {"inline": await upstream.fetch(item)}


# --8<-- [end:mistakes]
