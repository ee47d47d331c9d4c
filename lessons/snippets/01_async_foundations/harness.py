from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, int]]:
    yield {"started": 1}


app = FastAPI(lifespan=lifespan)


@app.get("/visits")
async def visits(request: Request) -> dict[str, int]:
    # counts up in-process; under a server each request starts from a copy of the state
    request.state.visits = getattr(request.state, "visits", 0) + 1
    return {"visits": request.state.visits}


@app.get("/crash")
async def crash() -> None:
    raise RuntimeError("a bug")


async def countdown() -> AsyncIterator[str]:
    for n in (3, 2, 1):
        yield f"{n}\n"


@app.get("/countdown")
async def stream() -> StreamingResponse:
    return StreamingResponse(countdown(), media_type="text/plain")
