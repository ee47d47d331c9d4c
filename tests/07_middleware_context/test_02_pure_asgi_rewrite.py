"""Hidden suite for 07_middleware_context/02_pure_asgi_rewrite: an access log that knows the user.

Requests go through a raw ASGI receive/send pair whose `send` writes into one timeline with
the access records (a handler of the checks' own on `shop.access`) and with the probe
stream's own steps, so the timeline shows when each chunk reached the client and when the
access line was written.  No timers: the order of the entries is all that is compared.
"""

import json
import logging
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Annotated, Any

import anyio
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends, WebSocket
from fastapi.responses import StreamingResponse

from workbook.testing import (
    SERVER_SCOPE,
    Failure,
    client_for,
    expect_equal,
    expect_header,
    expect_json,
    serve_raw,
)

GUARD = 5.0  # seconds: a hang guard only, no check depends on it
ADA = [(b"x-api-key", b"key-ada")]
ORDERS = [{"id": 1, "item": "tea"}, {"id": 2, "item": "scones"}]
STREAM_PROBE = "/probe/stream"

NOT_VISIBLE = (
    "Is the middleware still a BaseHTTPMiddleware? call_next runs the app in a task of its "
    "own, so a ContextVar the app sets there is never seen by dispatch. A pure ASGI "
    "middleware calls `await self.app(scope, receive, send)` in its own task: read "
    "current_user in the send wrapper and after the call."
)
HEADER_HELP = (
    "Does the send wrapper add X-User to the headers of the http.response.start message, "
    "read from current_user at that moment, and keep the headers that were there?"
)
LINE_HELP = (
    'Is the line written with access_log.info("%s %s %s user=%s", method, path, status, '
    "user), once, after `await self.app(...)` returns, with the path from "
    'scope["path"] (no query string)?'
)
AFTER_BODY = (
    "Is the access line written only once the app has returned, after the last body "
    "message? dispatch returns as soon as the response starts, before the body is sent."
)
STREAMING = (
    "Does the middleware pass each body message on at once? Collecting the body before "
    "sending it keeps the client waiting for the whole stream."
)
ANONYMOUS = (
    "Does the middleware set current_user to 'anonymous' before calling the app? An "
    "in-process test client serves every request in the caller's task, so a user set by "
    "the previous request is still there otherwise."
)
RESTORE = (
    "Is current_user reset with the token its set() returned, in a finally, once the app "
    "has answered? Setting it to 'anonymous' again loses what the caller had set."
)
OTHER_SCOPES = (
    "Does the middleware pass every scope that is not 'http' (the lifespan, a websocket) "
    "straight on? A websocket scope has no method, and it gets no access line."
)
ERROR_LINE = (
    "An unhandled error never passes your send: no response starts. Is the line still "
    "written, with status 500, in a finally (or an except that raises again)?"
)
RAISED = "Does the middleware let the exception go on to the server, raised as it is?"


class ProbeError(Exception):
    """Raised by the probe routes: nothing handles it."""


class Timeline:
    """What happened during one test, in order: sent messages, log lines, stream steps."""

    def __init__(self) -> None:
        self.events: list[str] = []


TIMELINE = Timeline()


class AccessRecords(logging.Handler):
    """Writes every record of `shop.access` into the timeline, with its level."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.levelname} {record.getMessage()}"
        self.lines.append(line)
        TIMELINE.events.append(f"logged {line}")


@pytest.fixture
def access(exercise: ModuleType) -> Iterator[AccessRecords]:
    """A fresh timeline and a handler on `shop.access`, removed again afterwards."""
    global TIMELINE
    TIMELINE = Timeline()
    add_probes(exercise)
    records = AccessRecords()
    logger = logging.getLogger("shop.access")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(records)
    try:
        yield records
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)


def add_probes(exercise: ModuleType) -> None:
    """Routes of the checks' own, added once."""
    app = exercise.app
    if any(getattr(route, "path", None) == STREAM_PROBE for route in app.routes):
        return
    user = exercise.User
    current_user = exercise.current_user

    async def as_grace() -> None:
        current_user.set("grace")

    async def set_by_other_code(_: Annotated[None, Depends(as_grace)]) -> dict[str, str]:
        return {"status": "ok"}

    async def stream(_: user) -> StreamingResponse:  # type: ignore[valid-type]
        async def chunks() -> AsyncIterator[bytes]:
            yield b"chunk 1\n"
            TIMELINE.events.append("produced chunk 2")
            yield b"chunk 2\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    async def boom(_: user) -> dict[str, str]:  # type: ignore[valid-type]
        raise ProbeError("the probe failed")

    async def fail_midway(_: user) -> StreamingResponse:  # type: ignore[valid-type]
        async def chunks() -> AsyncIterator[bytes]:
            yield b"chunk 1\n"
            raise ProbeError("the stream failed")

        return StreamingResponse(chunks(), media_type="text/plain")

    async def websocket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    app.add_api_route("/probe/grace", set_by_other_code, methods=["GET"])
    app.add_api_route(STREAM_PROBE, stream, methods=["GET"])
    app.add_api_route("/probe/boom", boom, methods=["GET"])
    app.add_api_route("/probe/fail-midway", fail_midway, methods=["GET"])
    app.add_api_websocket_route("/probe/websocket", websocket)


class Exchange:
    """One request as a server sees it: the messages the app sent and what it raised."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.raised: Exception | None = None

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name.lower()]

    async def record(self, message: dict[str, Any]) -> None:
        """Keep a message the app sent, and write it into the timeline."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [
                (key.decode("latin-1").lower(), value.decode("latin-1"))
                for key, value in message.get("headers", [])
            ]
            users = self.header("x-user")
            TIMELINE.events.append(f"sent status {message['status']} X-User {users}")
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            self.body += chunk
            if chunk:
                TIMELINE.events.append(f"sent {chunk.decode(errors='replace')!r}")
            if not message.get("more_body", False):
                TIMELINE.events.append("sent end of body")


async def serve(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> Exchange:
    """GET `path` through a real receive/send pair; `send` writes into the timeline."""
    exchange = Exchange()
    raw = await serve_raw(app, path, headers=headers, on_send=exchange.record, guard=GUARD)
    exchange.raised = raw.raised
    return exchange


STREAM_TIMELINE = [
    "sent status 200 X-User ['ada']",
    "sent 'chunk 1\\n'",
    "produced chunk 2",
    "sent 'chunk 2\\n'",
    "sent end of body",
    f"logged INFO GET {STREAM_PROBE} 200 user=ada",
]


def stream_help(events: list[str]) -> str:
    """The question that fits a wrong stream timeline."""
    produced, first_chunk = STREAM_TIMELINE[2], STREAM_TIMELINE[1]
    if produced in events and first_chunk not in events[: events.index(produced)]:
        return STREAMING
    return AFTER_BODY


def raised_name(exchange: Exchange) -> str:
    return type(exchange.raised).__name__ if exchange.raised else "nothing"


# -- the user the app authenticated ------------------------------------------------------


@pytest.mark.parametrize(("key", "user"), [("key-ada", "ada"), ("key-grace", "grace")])
async def test_header_names_the_user(
    exercise: ModuleType, access: AccessRecords, key: str, user: str
) -> None:
    """a response carries X-User: the user that authenticate set while serving it"""
    async with client_for(exercise.app) as client:
        response = await client.get("/me", headers={"X-API-Key": key})
    expect_header(response, "x-user", user, help=NOT_VISIBLE)
    expect_equal("X-User headers", [user], response.headers.get_list("x-user"), help=HEADER_HELP)
    expect_header(response, "content-type", "application/json")
    expect_json(response, {"user": user})


async def test_access_lines(exercise: ModuleType, access: AccessRecords) -> None:
    """one INFO line per request on shop.access: method, path without query, status, user"""
    async with client_for(exercise.app) as client:
        orders = await client.get("/orders", headers={"X-API-Key": "key-grace"})
        await client.get("/orders?page=2", headers={"X-API-Key": "key-ada"})
        await client.delete("/orders")
    expect_json(orders, ORDERS)
    expected = [
        "INFO GET /orders 200 user=grace",
        "INFO GET /orders 200 user=ada",
        "INFO DELETE /orders 405 user=anonymous",
    ]
    help = NOT_VISIBLE if access.lines[:1] == ["INFO GET /orders 200 user=anonymous"] else LINE_HELP
    expect_equal("access lines", expected, access.lines, help=help)


async def test_user_set_by_any_code(exercise: ModuleType, access: AccessRecords) -> None:
    """whatever code sets current_user while a request is served, the header and line show it"""
    async with client_for(exercise.app) as client:
        response = await client.get("/probe/grace")
    expect_header(response, "x-user", "grace", help=NOT_VISIBLE)
    expect_equal("access lines", ["INFO GET /probe/grace 200 user=grace"], access.lines)


@pytest.mark.stub_may_pass(
    "BaseHTTPMiddleware runs the app in a task of its own, so the stub never carries a "
    "user over from one request to the next"
)
@pytest.mark.parametrize(
    ("method", "path", "key", "status"),
    [
        ("GET", "/health", None, 200),
        ("GET", "/orders", None, 401),
        ("GET", "/orders", "key-nobody", 401),
        ("GET", "/nowhere", "key-ada", 404),
    ],
    ids=["health", "no-key", "unknown-key", "unknown-path"],
)
async def test_each_request_starts_anonymous(
    exercise: ModuleType,
    access: AccessRecords,
    method: str,
    path: str,
    key: str | None,
    status: int,
) -> None:
    """right after an authenticated request, a request nobody authenticates is anonymous"""
    headers = {"X-API-Key": key} if key else {}
    async with client_for(exercise.app) as client:
        await client.get("/orders", headers={"X-API-Key": "key-ada"})
        response = await client.request(method, path, headers=headers)
    expect_equal("status", status, response.status_code)
    expect_header(response, "x-user", "anonymous", help=ANONYMOUS)
    line = f"INFO {method} {path} {status} user=anonymous"
    expect_equal("the second access line", line, access.lines[-1], help=ANONYMOUS)
    if status == 401:
        expect_header(response, "www-authenticate", "ApiKey", help=HEADER_HELP)
        expect_json(response, {"detail": "Unknown API key"})


@pytest.mark.stub_may_pass(
    "BaseHTTPMiddleware runs the app in a task of its own, so the stub never changes "
    "current_user in the caller's task"
)
@pytest.mark.parametrize("before", [None, "cron-job"], ids=["default", "set-by-the-caller"])
async def test_current_user_restored(
    exercise: ModuleType, access: AccessRecords, before: str | None
) -> None:
    """once the middleware returns, current_user holds again what it held before the request"""
    token = exercise.current_user.set(before) if before is not None else None
    try:
        async with client_for(exercise.app) as client:
            await client.get("/orders", headers={"X-API-Key": "key-ada"})
            after = exercise.current_user.get()
    finally:
        if token is not None:
            exercise.current_user.reset(token)
    expected = "anonymous" if before is None else before
    expect_equal("current_user after the request", expected, after, help=RESTORE)


@pytest.mark.stub_may_pass("BaseHTTPMiddleware passes a websocket straight on")
async def test_other_scopes_pass_through(exercise: ModuleType, access: AccessRecords) -> None:
    """a websocket passes through untouched and gets no access line"""
    scope = {
        **SERVER_SCOPE,
        "type": "websocket",
        "scheme": "ws",
        "path": "/probe/websocket",
        "raw_path": b"/probe/websocket",
        "query_string": b"",
        "headers": [(b"host", b"test"), *ADA],
        "subprotocols": [],
    }
    incoming = [{"type": "websocket.connect"}]
    sent: list[str] = []
    raised: Exception | None = None

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    with anyio.fail_after(GUARD):
        async with LifespanManager(exercise.app) as manager:
            try:
                await manager.app(scope, receive, send)
            except Exception as exc:
                raised = exc
    what = f"{type(raised).__name__}: {raised}" if raised else "nothing"
    expect_equal("the exception the server gets", "nothing", what, help=OTHER_SCOPES)
    expect_equal("messages sent", ["websocket.accept", "websocket.close"], sent, help=OTHER_SCOPES)
    expect_equal("access lines", [], access.lines, help=OTHER_SCOPES)


# -- streamed responses ------------------------------------------------------------------


async def test_stream_flows_and_line_comes_last(
    exercise: ModuleType, access: AccessRecords
) -> None:
    """a stream: X-User with the start, each chunk sent before the next is made, the line last"""
    await serve(exercise.app, STREAM_PROBE, ADA)
    events = TIMELINE.events
    first = events[0] if events else "nothing sent"
    expect_equal("first event", STREAM_TIMELINE[0], first, help=NOT_VISIBLE)
    expect_equal("timeline", STREAM_TIMELINE, events, help=stream_help(events))


async def test_json_lines_export(exercise: ModuleType, access: AccessRecords) -> None:
    """GET /orders/export streams the orders as JSON Lines, with X-User, then logs its line"""
    exchange = await serve(exercise.app, "/orders/export", ADA)
    expect_equal("status", 200, exchange.status)
    expect_equal("X-User headers", ["ada"], exchange.header("x-user"), help=NOT_VISIBLE)
    expect_equal("content-type", ["application/jsonl"], exchange.header("content-type"))
    try:
        lines = [json.loads(line) for line in exchange.body.decode().splitlines()]
    except ValueError:
        raise Failure(f"expected JSON Lines, not {exchange.body[:200]!r}") from None
    expect_equal("orders streamed", ORDERS, lines)
    expect_equal(
        "the last event",
        "logged INFO GET /orders/export 200 user=ada",
        TIMELINE.events[-1],
        help=AFTER_BODY,
    )


# -- unhandled errors --------------------------------------------------------------------


async def test_unhandled_error_is_logged_as_500(
    exercise: ModuleType, access: AccessRecords
) -> None:
    """an unhandled error is logged with status 500 and its user, and reaches the server"""
    exchange = await serve(exercise.app, "/probe/boom", ADA)
    expect_equal(
        "access lines", ["INFO GET /probe/boom 500 user=ada"], access.lines, help=ERROR_LINE
    )
    expect_equal("the exception the server gets", "ProbeError", raised_name(exchange), help=RAISED)


async def test_error_midway_logs_the_sent_status(
    exercise: ModuleType, access: AccessRecords
) -> None:
    """a stream that fails midway is logged with the status it sent, and the error goes on"""
    exchange = await serve(exercise.app, "/probe/fail-midway", ADA)
    expect_equal("status sent", 200, exchange.status)
    expect_equal(
        "access lines", ["INFO GET /probe/fail-midway 200 user=ada"], access.lines, help=ERROR_LINE
    )
    expect_equal("the exception the server gets", "ProbeError", raised_name(exchange), help=RAISED)
