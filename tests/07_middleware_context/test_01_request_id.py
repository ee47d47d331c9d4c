"""Hidden suite for 07_middleware_context/01_request_id: a request id in every log line.

The checks attach the learner's `RequestIdFilter` to a handler of their own on the `shop`
logger, so every record the app (or a probe route of the checks) logs while serving a
request shows the id the filter gave it.  Concurrency is forced with events: one request
logs, waits until the other has logged, and logs again.  Errors are driven through a raw
ASGI receive/send pair, so the checks see what a server would get: the messages sent and
the exception raised.  No timers: `anyio.fail_after` is only a hang guard.
"""

import logging
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import WebSocket
from fastapi.responses import StreamingResponse

from workbook.testing import (
    SERVER_SCOPE,
    Failure,
    RawExchange,
    client_for,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    serve_raw,
)

HEADER = "X-Request-ID"
GENERATED = re.compile(r"[0-9a-f]{32}")
NO_ATTRIBUTE = "<no request_id attribute>"
GUARD = 5.0  # seconds: a hang guard only, no check depends on it
LONGEST = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"  # 64 characters
PROBE_LOGGER = logging.getLogger("shop.probe")

EXPORT = '{"id":1,"item":"tea"}\n{"id":2,"item":"scones"}\n'

MISSING_HEADER = (
    "Does the middleware add X-Request-ID to the headers of the http.response.start "
    "message, for every response that passes through it?"
)
RULE = (
    "Is the sent id kept only when it is 1 to 64 characters, each an ASCII letter, an ASCII "
    "digit, '-', '_' or '.'? Check the whole value (re.fullmatch, not re.match), spell "
    "the letters as A-Z and a-z (A-z also spans '[', '\\', ']', '^' and '`'), and "
    "remember that str.isalnum() and \\w also accept letters such as 'é'."
)
FORMAT = "Is a new id made with uuid.uuid4().hex, for each request that needs one?"
NOT_IN_LOGS = (
    "Does the middleware set the ContextVar before calling the app, and does "
    "RequestIdFilter copy its value onto each record as record.request_id?"
)
SHARED = (
    "Is the id kept in a ContextVar, and not in a global or an attribute of the "
    "middleware? Concurrent requests each need their own value."
)
RESET = (
    "Is the ContextVar reset with the token that set() returned, in a finally, once the "
    "app has answered or raised? A test client serves every request in the caller's task."
)
OTHER_SCOPES = (
    "Does the middleware pass every scope that is not 'http' (the lifespan, a websocket) "
    "straight on, without choosing an id or setting the ContextVar?"
)
ERROR_500 = (
    "The 500 for an unhandled error is sent by ServerErrorMiddleware, which sits outside "
    "your middleware: its message never passes your send. Does your middleware catch the "
    "exception, send a 500 of its own through the wrapped send when no response has "
    "started, and raise the exception again?"
)
SWALLOWED = (
    "Does the middleware raise the exception again after sending its 500? The server logs "
    "it only if it gets it."
)
STARTED = (
    "Does the middleware remember that the response has started, and send nothing of its "
    "own after that? A second response start is a protocol error for the server."
)


class ProbeError(Exception):
    """The error the failing probe route raises: nothing handles it."""


class Probes:
    """What the probe routes wait for and signal; fresh for each test."""

    def __init__(self) -> None:
        self.first_logged = anyio.Event()
        self.second_logged = anyio.Event()


PROBES = Probes()


def add_probes(exercise: ModuleType) -> None:
    """The checks' own routes, added once: they log on `shop.probe`."""
    app = exercise.app
    if any(getattr(route, "path", None) == "/probe/first" for route in app.routes):
        return

    async def first() -> str:
        PROBE_LOGGER.info("first: before")
        PROBES.first_logged.set()
        await PROBES.second_logged.wait()
        PROBE_LOGGER.info("first: after")
        return "first"

    async def second() -> str:
        await PROBES.first_logged.wait()
        PROBE_LOGGER.info("second")
        PROBES.second_logged.set()
        return "second"

    async def fail() -> str:
        PROBE_LOGGER.info("about to fail")
        raise ProbeError("the probe failed")

    async def websocket(websocket: WebSocket) -> None:
        await websocket.accept()
        PROBE_LOGGER.info("websocket connected")
        await websocket.close()

    async def fail_midway() -> StreamingResponse:
        async def chunks() -> Any:
            yield b"first chunk\n"
            raise ProbeError("the stream failed")

        return StreamingResponse(chunks(), media_type="text/plain")

    app.add_api_route("/probe/first", first, methods=["GET"])
    app.add_api_route("/probe/second", second, methods=["GET"])
    app.add_api_route("/probe/fail", fail, methods=["GET"])
    app.add_api_route("/probe/fail-midway", fail_midway, methods=["GET"])
    app.add_api_websocket_route("/probe/websocket", websocket)


class Capture(logging.Handler):
    """Keeps (message, request_id) for every record that passes the learner's filter."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.rows: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.rows.append((record.getMessage(), getattr(record, "request_id", NO_ATTRIBUTE)))

    def ids_of(self, message: str) -> list[str]:
        return [request_id for text, request_id in self.rows if text == message]


@pytest.fixture
def logs(exercise: ModuleType) -> Iterator[Capture]:
    """A handler on `shop` with the learner's filter; removed again afterwards."""
    global PROBES
    PROBES = Probes()
    add_probes(exercise)
    capture = Capture()
    capture.addFilter(exercise.RequestIdFilter())
    shop = logging.getLogger("shop")
    level = shop.level
    shop.setLevel(logging.INFO)
    shop.addHandler(capture)
    try:
        yield capture
    finally:
        shop.removeHandler(capture)
        shop.setLevel(level)


def expect_logged(logs: Capture, message: str, expected_id: str, help: str = NOT_IN_LOGS) -> None:
    """Exactly one record with this message, carrying this request id."""
    expect_equal(
        f"request_id of the records {message!r}", [expected_id], logs.ids_of(message), help=help
    )


def the_id(response: httpx.Response) -> str:
    """The response's one X-Request-ID header."""
    values = response.headers.get_list(HEADER)
    if not values:
        raise Failure(f"expected an {HEADER} header on the response, not none", help=MISSING_HEADER)
    expect_equal(f"one {HEADER} header", [values[0]], values, help=MISSING_HEADER)
    return values[0]


def records_help(rows: list[tuple[str, str]]) -> str:
    """The question that fits records whose ids are wrong."""
    if any(request_id in (NO_ATTRIBUTE, "-") for _, request_id in rows):
        return NOT_IN_LOGS
    return SHARED


# -- a server's view: the messages sent and the exception raised --------------------------


async def serve(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> RawExchange:
    """GET `path` as a server would, keeping whatever the app raises."""
    return await serve_raw(app, path, headers=headers, guard=GUARD)


# -- which id a request gets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param(b"a", True, id="one-character"),
        pytest.param(LONGEST.encode(), True, id="64-characters-of-every-kind"),
        pytest.param(b"req.2026-05-01_7", True, id="dots-dashes-underscores"),
        pytest.param(LONGEST.encode() + b".", False, id="65-characters"),
        pytest.param(b"", False, id="empty"),
        pytest.param(b"abc def", False, id="space"),
        pytest.param(b"abc/def", False, id="slash"),
        pytest.param(b"abc:def", False, id="colon"),
        pytest.param(b"\xe9t\xe9", False, id="non-ascii-letters"),
        pytest.param(b"abc^def`", False, id="caret-backtick"),
        pytest.param(b"abc[1]", False, id="brackets"),
        pytest.param(b"abc\\def", False, id="backslash"),
    ],
)
async def test_sent_id_rule(exercise: ModuleType, logs: Capture, sent: bytes, kept: bool) -> None:
    """an acceptable X-Request-ID is kept; any other value is replaced by a new id"""
    async with client_for(exercise.app) as client:
        response = await client.get("/orders/1", headers={HEADER: sent})
    request_id = the_id(response)
    if kept:
        expect_equal(HEADER, sent.decode(), request_id, help=RULE)
    else:
        expect(
            GENERATED.fullmatch(request_id),
            f"expected {sent!r} to be replaced by a new id (32 lowercase hex digits), "
            f"not {request_id!r}",
            help=RULE,
        )
    expect_logged(logs, "reading order 1", request_id)


async def test_new_id_for_each_request(exercise: ModuleType, logs: Capture) -> None:
    """without X-Request-ID each request gets a new id: uuid4().hex, 32 lowercase hex digits"""
    async with client_for(exercise.app) as client:
        ids = [the_id(await client.get("/orders/1")) for _ in range(2)]
    for request_id in ids:
        expect(
            GENERATED.fullmatch(request_id),
            f"expected a new id of 32 lowercase hex digits, not {request_id!r}",
            help=FORMAT,
        )
    expect(
        ids[0] != ids[1], f"expected two requests to get two ids, not {ids[0]!r} twice", help=FORMAT
    )
    expect_equal("request_id of the records", ids, logs.ids_of("reading order 1"), help=NOT_IN_LOGS)


# -- every response carries it ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/orders/1", 200, {"id": 1, "item": "tea"}),
        ("GET", "/orders/2", 200, {"id": 2, "item": "scones"}),
        ("GET", "/orders/9", 404, {"detail": "Order not found"}),
        ("GET", "/orders/abc", 422, None),
        ("GET", "/nowhere", 404, {"detail": "Not Found"}),
        ("DELETE", "/orders/1", 405, {"detail": "Method Not Allowed"}),
    ],
    ids=["200", "another-200", "404-unknown-order", "422", "404-unknown-path", "405"],
)
async def test_header_on_every_response(
    exercise: ModuleType, logs: Capture, method: str, path: str, status: int, body: Any
) -> None:
    """every response carries X-Request-ID once, and keeps its own status, headers and body"""
    async with client_for(exercise.app) as client:
        response = await client.request(method, path, headers={HEADER: "req-1"})
    expect_equal(
        f"{HEADER} headers", ["req-1"], response.headers.get_list(HEADER), help=MISSING_HEADER
    )
    expect_equal("status", status, response.status_code)
    expect_header(response, "content-type", "application/json")
    if body is not None:
        expect_json(response, body)


async def test_route_logs_carry_the_id(exercise: ModuleType, logs: Capture) -> None:
    """a record logged by the route carries the request's id"""
    async with client_for(exercise.app) as client:
        await client.get("/orders/9", headers={HEADER: "req-404"})
    expect_logged(logs, "reading order 9", "req-404")


async def test_streamed_body_logs_carry_the_id(exercise: ModuleType, logs: Capture) -> None:
    """a streamed response carries the id, and so does every record its body logs"""
    async with client_for(exercise.app) as client:
        response = await client.get("/orders/export", headers={HEADER: "req-export"})
    expect_equal(
        f"{HEADER} headers", ["req-export"], response.headers.get_list(HEADER), help=MISSING_HEADER
    )
    expect_equal("body", EXPORT, response.text)
    expect_logged(logs, "exporting order 1", "req-export")
    expect_logged(logs, "exporting order 2", "req-export")


async def test_concurrent_requests_keep_their_own_ids(exercise: ModuleType, logs: Capture) -> None:
    """two requests served at once: each record carries the id of its own request"""
    async with client_for(exercise.app) as client:

        async def get(path: str, request_id: str) -> None:
            await client.get(path, headers={HEADER: request_id})

        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(get, "/probe/first", "req-A")
                tasks.start_soon(get, "/probe/second", "req-B")
    expected = [("first: before", "req-A"), ("second", "req-B"), ("first: after", "req-A")]
    expect_equal("records (message, request_id)", expected, logs.rows, help=records_help(logs.rows))


async def test_id_ends_with_the_request(exercise: ModuleType, logs: Capture) -> None:
    """outside a request records carry '-', also in the same task right after a request"""
    PROBE_LOGGER.info("before any request")
    async with client_for(exercise.app) as client:
        await client.get("/orders/1", headers={HEADER: "req-over"})
        PROBE_LOGGER.info("after the request")
    expected = [
        ("before any request", "-"),
        ("reading order 1", "req-over"),
        ("after the request", "-"),
    ]
    help = NOT_IN_LOGS if logs.ids_of("reading order 1") != ["req-over"] else RESET
    expect_equal("records (message, request_id)", expected, logs.rows, help=help)


async def test_other_scopes_get_no_id(exercise: ModuleType, logs: Capture) -> None:
    """a websocket passes through untouched: what it logs carries '-'"""
    scope = {
        **SERVER_SCOPE,
        "type": "websocket",
        "scheme": "ws",
        "path": "/probe/websocket",
        "raw_path": b"/probe/websocket",
        "query_string": b"",
        "headers": [(b"host", b"test"), (b"x-request-id", b"req-ws")],
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
    help = NOT_IN_LOGS if logs.ids_of("websocket connected") == [NO_ATTRIBUTE] else OTHER_SCOPES
    expect_logged(logs, "websocket connected", "-", help=help)


# -- unhandled errors -------------------------------------------------------------------------


async def test_unhandled_error_answers_500_with_the_id(exercise: ModuleType, logs: Capture) -> None:
    """an unhandled error answers 500 with X-Request-ID once; what it logged carries the id"""
    exchange = await serve(exercise.app, "/probe/fail", [(b"x-request-id", b"req-500")])
    expect_equal("status", 500, exchange.status)
    expect_equal(
        f"{HEADER} headers on the 500", ["req-500"], exchange.header_values(HEADER), help=ERROR_500
    )
    expect_logged(logs, "about to fail", "req-500")


async def test_id_ends_with_a_failed_request(exercise: ModuleType, logs: Capture) -> None:
    """after an unhandled error records carry '-' again, also in the same task"""
    await serve(exercise.app, "/probe/fail", [(b"x-request-id", b"req-500")])
    PROBE_LOGGER.info("after the error")
    expected = [("about to fail", "req-500"), ("after the error", "-")]
    help = NOT_IN_LOGS if logs.ids_of("about to fail") != ["req-500"] else RESET
    expect_equal("records (message, request_id)", expected, logs.rows, help=help)


@pytest.mark.stub_may_pass("the stub leaves errors alone, so they reach the server")
async def test_unhandled_error_reaches_the_server(exercise: ModuleType, logs: Capture) -> None:
    """the unhandled error still reaches the server, raised as it is"""
    exchange = await serve(exercise.app, "/probe/fail", [(b"x-request-id", b"req-500")])
    raised = type(exchange.raised).__name__ if exchange.raised else "nothing"
    expect_equal("the exception the server gets", "ProbeError", raised, help=SWALLOWED)


async def test_error_after_the_start_sends_nothing_more(
    exercise: ModuleType, logs: Capture
) -> None:
    """a stream that fails midway: one response start only (with the id), and the error goes on"""
    exchange = await serve(exercise.app, "/probe/fail-midway", [(b"x-request-id", b"req-mid")])
    statuses = [start["status"] for start in exchange.starts]
    expect_equal("response starts sent", [200], statuses, help=STARTED)
    expect_equal(
        f"{HEADER} headers", ["req-mid"], exchange.header_values(HEADER), help=MISSING_HEADER
    )
    raised = type(exchange.raised).__name__ if exchange.raised else "nothing"
    expect_equal("the exception the server gets", "ProbeError", raised, help=SWALLOWED)
    if exchange.body != b"first chunk\n":
        raise Failure(f"expected the first chunk to be sent as it was, not {exchange.body!r}")
