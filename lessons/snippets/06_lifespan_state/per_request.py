from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from fastapi import FastAPI, Request


class AppState(TypedDict):
    mode: str
    visitors: list[str]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[AppState]:
    yield {"mode": "live", "visitors": []}


def create_app() -> FastAPI:
    app = FastAPI(lifespan=lifespan)

    @app.post("/visits")
    async def visit(request: Request, user: str) -> dict[str, object]:
        seen = {"user": getattr(request.state, "user", None), "mode": request.state.mode}
        request.state.user = user  # a new key: set on this request's copy
        request.state.mode = "maintenance"  # a lifespan key rebound: this copy again
        request.state.visitors.append(user)  # the list itself is shared by every request
        return {"seen": seen, "visitors": request.state.visitors}

    return app


app = create_app()
