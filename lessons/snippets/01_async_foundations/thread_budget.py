from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request


def render_pdf(order_id: int) -> dict[str, int]:
    """Blocking and slow: think of a PDF library."""
    return {"order_id": order_id, "pages": 3}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, anyio.CapacityLimiter]]:
    yield {"pdf_limiter": anyio.CapacityLimiter(2)}  # at most 2 renders at once


app = FastAPI(lifespan=lifespan)


@app.get("/threads")
async def threads() -> dict[str, float]:
    shared = anyio.to_thread.current_default_thread_limiter()
    return {"total": shared.total_tokens, "borrowed": shared.borrowed_tokens}


@app.get("/orders/{order_id}/pdf")
async def order_pdf(order_id: int, request: Request) -> dict[str, int]:
    limiter = request.state.pdf_limiter
    return await anyio.to_thread.run_sync(render_pdf, order_id, limiter=limiter)
