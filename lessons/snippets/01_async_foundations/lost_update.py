import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request


class Store:
    """An async key-value store: every call is a round trip, and other tasks run meanwhile."""

    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    async def get(self, key: str) -> int:
        await asyncio.sleep(0)  # stands in for the network
        return self.data.get(key, 0)

    async def set(self, key: str, value: int) -> None:
        await asyncio.sleep(0)
        self.data[key] = value


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    yield {"store": Store(), "lock": asyncio.Lock()}  # the lock is made on the app's loop


app = FastAPI(lifespan=lifespan)


@app.post("/racy/{key}")
async def racy_like(key: str, request: Request) -> dict[str, int]:
    likes = await request.state.store.get(key) + 1  # another request may read the same value
    await request.state.store.set(key, likes)  # ... and this write wipes out its +1
    return {"likes": likes}


@app.post("/locked/{key}")
async def locked_like(key: str, request: Request) -> dict[str, int]:
    async with request.state.lock:  # one request at a time between the read and the write
        likes = await request.state.store.get(key) + 1
        await request.state.store.set(key, likes)
    return {"likes": likes}
