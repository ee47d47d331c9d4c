"""The suites' in-process client behaves like a server where learners' code can tell."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from workbook.testing import client_for


def app_with_state() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {"visits": []}

    app = FastAPI(lifespan=lifespan)

    @app.get("/visit/{name}")
    async def visit(name: str, request: Request) -> dict[str, Any]:
        before = getattr(request.state, "last", None)
        request.state.last = name  # assigned: this request's copy only
        request.state.visits.append(name)  # mutated: the one shared list
        return {"last": before, "visits": request.state.visits}

    return app


async def test_each_request_gets_a_shallow_copy_of_the_lifespan_state():
    async with client_for(app_with_state()) as client:
        first = (await client.get("/visit/ada")).json()
        second = (await client.get("/visit/grace")).json()
    assert first == {"last": None, "visits": ["ada"]}
    assert second == {"last": None, "visits": ["ada", "grace"]}
