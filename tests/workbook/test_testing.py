"""The suites' in-process client behaves like a server where learners' code can tell."""

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from workbook import testing
from workbook.testing import (
    AppExited,
    AppStartError,
    client_for,
    exit_failure,
    serve_raw,
    track_interrupts,
)


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


def exiting_app(where: str, raised: BaseException) -> FastAPI:
    """An app that raises ``raised`` at ``where``: startup, shutdown, route or subtask."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if where == "startup":
            raise raised
        yield
        if where == "shutdown":
            raise raised

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    async def greet() -> dict[str, str]:
        if where in ("route", "subtask"):
            raise raised
        return {"hello": "world"}

    if where == "subtask":  # call_next runs the route in a task of its own

        @app.middleware("http")
        async def passing(request: Request, call_next: Any) -> Any:
            return await call_next(request)

    return app


async def test_an_app_exiting_at_startup_did_not_start_and_the_loop_lives_on():
    with pytest.raises(AppStartError) as caught:
        async with client_for(exiting_app("startup", SystemExit("bad settings"))):
            pass
    assert str(caught.value) == (
        "your code raised SystemExit('bad settings'): "
        "an app should raise an error, not exit the process"
    )
    async with client_for(exiting_app("nowhere", SystemExit(1))) as client:
        assert (await client.get("/")).status_code == 200


@pytest.mark.parametrize(
    ("where", "when"),
    [
        ("shutdown", "while the app shut down"),
        ("route", "while the app answered GET /"),
        ("subtask", "while the app answered GET /"),
    ],
)
async def test_an_app_exiting_fails_with_when_it_exited(where, when):
    with pytest.raises(AppExited) as caught:
        async with client_for(exiting_app(where, SystemExit(1))) as client:
            await client.get("/")
    assert caught.value.message == (
        f"your code raised SystemExit(1) {when}: an app should raise an error, not exit the process"
    )
    assert isinstance(caught.value.raised, SystemExit)


async def test_an_exit_in_a_route_is_a_500_when_app_exceptions_are_not_raised():
    # as a server answers it: uvicorn logs any BaseException of a request and sends a 500
    app = exiting_app("route", SystemExit(1))
    async with client_for(app, raise_app_exceptions=False) as client:
        assert (await client.get("/")).status_code == 500


async def test_pytest_outcomes_raised_in_the_app_keep_their_meaning():
    with pytest.raises(pytest.skip.Exception):
        async with client_for(exiting_app("route", pytest.skip.Exception("later"))) as client:
            await client.get("/")


def test_only_exits_become_failures(monkeypatch):
    monkeypatch.setitem(testing._interrupts, "tracked", True)
    monkeypatch.setitem(testing._interrupts, "delivered", 0)
    assert isinstance(exit_failure(SystemExit(1)), AppExited)
    assert isinstance(exit_failure(KeyboardInterrupt()), AppExited)
    assert isinstance(exit_failure(GeneratorExit()), AppExited)
    group = BaseExceptionGroup("two", [ValueError(), SystemExit(2)])
    assert exit_failure(group).message.startswith(  # type: ignore[union-attr]
        "your code raised an exception group holding SystemExit(2): "
    )
    for steering in (
        ValueError("ordinary"),
        asyncio.CancelledError(),
        pytest.skip.Exception("skip"),
        pytest.fail.Exception("Timeout (>3.0s)"),
        BaseExceptionGroup("cancelled", [asyncio.CancelledError()]),
        BaseExceptionGroup("skip wins", [SystemExit(1), pytest.skip.Exception("skip")]),
    ):
        assert exit_failure(steering) is None, steering


def test_a_delivered_interrupt_still_stops_the_run(monkeypatch):
    monkeypatch.setitem(testing._interrupts, "tracked", False)
    assert exit_failure(KeyboardInterrupt()) is None, "untracked: a person may have pressed Ctrl-C"
    before = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(signal, "getsignal", lambda _: signal.default_int_handler)
    installed: list[Any] = []
    monkeypatch.setattr(signal, "signal", lambda _, handler: installed.append(handler))
    track_interrupts()
    assert testing._interrupts["tracked"]
    assert isinstance(exit_failure(KeyboardInterrupt()), AppExited), "raised, not delivered"
    with pytest.raises(KeyboardInterrupt):
        installed[0](signal.SIGINT, None)  # a SIGINT arrives
    assert exit_failure(KeyboardInterrupt()) is None
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGINT) is before


async def test_a_raw_exchange_keeps_an_exit_as_a_server_logs_it():
    exchange = await serve_raw(exiting_app("route", SystemExit(2)), "/")
    assert exchange.status is None  # it never answered: a server would send a 500 itself
    assert isinstance(exchange.raised, AppExited)
    assert isinstance(exchange.raised.raised, SystemExit)
