from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request

log: list[str] = []


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
    async with AsyncExitStack() as stack:
        log.append("open db")
        stack.callback(log.append, "close db")
        log.append("open cache")
        stack.callback(log.append, "close cache")
        yield {"db": "a connection"}


app = FastAPI(lifespan=lifespan)


@app.get("/db")
async def read_db(request: Request) -> str:
    return request.state.db
