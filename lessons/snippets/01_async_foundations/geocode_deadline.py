import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, HTTPException, Request

SDK_TIMEOUT = 3.0  # the SDK gives up by itself: the thread never outlives this
TOKEN_WAIT = 0.5  # how long a request may wait for one of the geocoder's threads


class Geocoder:
    """A blocking SDK with a timeout of its own, like most HTTP-based SDKs."""

    def locate(self, address: str, *, timeout: float) -> dict[str, float]:
        return {"lat": 48.8584, "lon": 2.2945}


geocoder = Geocoder()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, anyio.CapacityLimiter]]:
    yield {"geocoder_limiter": anyio.CapacityLimiter(4)}


app = FastAPI(lifespan=lifespan)


@app.get("/locate")
async def locate(address: str, request: Request) -> dict[str, float]:
    call = functools.partial(geocoder.locate, address, timeout=SDK_TIMEOUT)
    with anyio.move_on_after(TOKEN_WAIT):  # bounds the wait for a token, not a running call
        return await anyio.to_thread.run_sync(call, limiter=request.state.geocoder_limiter)
    raise HTTPException(503, "geocoder busy", headers={"Retry-After": "1"})
