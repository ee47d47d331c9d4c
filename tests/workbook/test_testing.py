"""The suites' in-process client behaves like a server where learners' code can tell."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from workbook.testing import client_for, serve_raw


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


def streaming_app(produced: list[str]) -> FastAPI:
    app = FastAPI()

    @app.get("/count")
    async def count() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for n in ("1", "2"):
                produced.append(n)
                yield n.encode()

        return StreamingResponse(chunks(), headers={"X-Kind": "count"})

    @app.get("/crash")
    async def crash() -> None:
        raise LookupError("no such thing")

    return app


async def test_a_raw_exchange_sees_each_chunk_as_it_is_sent():
    produced: list[str] = []
    seen: list[tuple[bytes, list[str]]] = []

    async def on_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            seen.append((message.get("body", b""), produced[:]))

    exchange = await serve_raw(streaming_app(produced), "/count", on_send=on_send)
    # the first chunk reached the client before the generator made the second
    assert seen[0] == (b"1", ["1"])
    assert exchange.status == 200
    assert exchange.header_values("x-kind") == ["count"]
    assert exchange.body == b"12"
    assert exchange.raised is None


async def test_a_raw_exchange_keeps_what_the_app_raised_as_a_server_would():
    exchange = await serve_raw(streaming_app([]), "/crash")
    assert exchange.status == 500
    assert isinstance(exchange.raised, LookupError)
