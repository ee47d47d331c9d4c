from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

POOL_THREADS = 60


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # the default limiter belongs to the running event loop: size it here, not at import
    anyio.to_thread.current_default_thread_limiter().total_tokens = POOL_THREADS
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/threads")
async def threads() -> dict[str, float]:
    return {"total": anyio.to_thread.current_default_thread_limiter().total_tokens}
