"""Hidden suite for 16_observability/01_json_logs: one JSON line per request.

The checks build the app with `create_app(clock=...)` and a clock of their own, whose time
moves only when a probe route of the checks moves it, so every duration is known exactly.
A handler on the `shop` logger keeps every record; each is formatted with the learner's
`JsonFormatter` and parsed as JSON here. A handler on the root logger keeps every error
record of any logger, to see that an exception is logged once. Errors are driven through
a raw ASGI exchange, so the checks see what a server would get.
"""

import inspect
import json
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI, Response
from fastapi.responses import StreamingResponse

from workbook.testing import Failure, client_for, expect, expect_equal, serve_raw

HEADER = "X-Request-ID"
GENERATED = re.compile(r"[0-9a-f]{32}")
LONGEST = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"  # 64 characters
START = 1000.0

ONE_LINE = (
    "Does the middleware log exactly one record on shop.access per request, after the app "
    "has returned or raised (not one per message sent, and not none)?"
)
NOT_JSON = (
    "Does JsonFormatter.format return json.dumps of one dict? The line must be a single "
    "JSON object with no line break in it."
)
FIELDS = (
    "Does the formatter write level (record.levelname), logger (record.name) and message "
    "(record.getMessage()), then each of request_id, method, route, status and "
    "duration_ms that the record carries, and nothing else?"
)
ROUTE = (
    "Is route the template of the route that matched (scope['route'].path, read after the "
    "app has run), and UNMATCHED when no route matched? Never the raw path."
)
STATUS = (
    "Is status taken from the http.response.start message the app sends, and 500 when the "
    "app raised before starting a response?"
)
LEVEL = 'Is the level "ERROR" when the app raised or the status is 500 or more, else "INFO"?'
DURATION = (
    "Is the clock read once before calling the app and once after it has returned or "
    "raised, and duration_ms = round((end - start) * 1000, 3)? A stream is timed to its "
    "last byte, so the end is read after the app returns, not at the response start."
)
EXCEPTION = (
    "Is the exception passed as exc_info to the one access record (and logged nowhere "
    "else), and raised again as it is for the server?"
)
REQUEST_ID = (
    "Is the sent X-Request-ID kept only when it is 1 to 64 characters, each an ASCII letter, "
    "an ASCII digit, '-', '_' or '.', and otherwise replaced by uuid.uuid4().hex? The same "
    "id goes in the response header and in the line."
)


class Clock:
    """Time that moves only when told to."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Records(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level=level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Capture:
    """The records of `shop` and the error records of every logger, while a check runs."""

    def __init__(self, exercise: ModuleType) -> None:
        self.exercise = exercise
        self.shop = Records(logging.DEBUG)
        self.errors = Records(logging.ERROR)

    def lines(self) -> list[dict[str, Any]]:
        """Every shop.access record, formatted by the learner's formatter and parsed."""
        access = [record for record in self.shop.records if record.name == "shop.access"]
        return [parse(self.exercise, record) for record in access]

    def line(self) -> dict[str, Any]:
        """The one line of the one request a check made."""
        lines = self.lines()
        expect_equal("lines logged on shop.access for one request", 1, len(lines), help=ONE_LINE)
        return lines[0]


def parse(exercise: ModuleType, record: logging.LogRecord) -> dict[str, Any]:
    text = exercise.JsonFormatter().format(record)
    expect(isinstance(text, str), f"expected format() to return a str, not {text!r}")
    expect(
        "\n" not in text, f"expected one line, not a line break in {text[:300]!r}", help=NOT_JSON
    )
    try:
        value = json.loads(text)
    except ValueError:
        raise Failure(f"expected a JSON object, not {text[:300]!r}", help=NOT_JSON) from None
    expect(isinstance(value, dict), f"expected a JSON object, not {text[:300]!r}", help=NOT_JSON)
    return value


@pytest.fixture
def logs(exercise: ModuleType) -> Iterator[Capture]:
    capture = Capture(exercise)
    shop, root = logging.getLogger("shop"), logging.getLogger()
    level = shop.level
    shop.setLevel(logging.INFO)
    shop.addHandler(capture.shop)
    root.addHandler(capture.errors)
    try:
        yield capture
    finally:
        shop.removeHandler(capture.shop)
        root.removeHandler(capture.errors)
        shop.setLevel(level)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(exercise: ModuleType, clock: Clock) -> FastAPI:
    """The learner's app on the checks' clock, with the checks' probe routes."""
    app = exercise.create_app(clock=clock)

    async def slow() -> dict[str, str]:
        clock.now += 0.0123456
        return {"done": "slowly"}

    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first\n"
            clock.now += 0.5
            yield b"second\n"
            clock.now += 0.25

        return StreamingResponse(chunks(), media_type="text/plain")

    async def fail_midway() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first\n"
            raise ValueError("the stream broke")

        return StreamingResponse(chunks(), media_type="text/plain")

    async def status(code: int) -> Response:
        return Response(status_code=code)

    app.add_api_route("/probe/slow", slow, methods=["GET"])
    app.add_api_route("/probe/stream", stream, methods=["GET"])
    app.add_api_route("/probe/fail-midway", fail_midway, methods=["GET"])
    app.add_api_route("/probe/status/{code}", status, methods=["GET"])
    return app


def record(
    message: str, *args: Any, level: int = logging.INFO, exc_info: Any = None, **extra: Any
) -> logging.LogRecord:
    made = logging.LogRecord("shop.probe", level, __file__, 1, message, args, exc_info)
    for name, value in extra.items():
        setattr(made, name, value)
    return made


# The formatter on its own


def test_a_plain_record_has_level_logger_and_message_only(exercise: ModuleType) -> None:
    line = parse(exercise, record("hello %s", "world"))
    expected = {"level": "INFO", "logger": "shop.probe", "message": "hello world"}
    expect_equal("line", expected, line, help=FIELDS)


def test_a_message_with_a_line_break_stays_on_one_line(exercise: ModuleType) -> None:
    line = parse(exercise, record("two\nlines", level=logging.WARNING))
    expected = {"level": "WARNING", "logger": "shop.probe", "message": "two\nlines"}
    expect_equal("line", expected, line, help=FIELDS)


def test_the_request_fields_a_record_carries_are_written(exercise: ModuleType) -> None:
    fields = {
        "request_id": "abc",
        "method": "PUT",
        "route": "/carts/{cart_id}",
        "status": 204,
        "duration_ms": 1.5,
    }
    line = parse(exercise, record("done", user="ada", **fields))
    expected = {"level": "INFO", "logger": "shop.probe", "message": "done", **fields}
    expect_equal("line", expected, line, help=FIELDS)
    line = parse(exercise, record("partly", route="/carts", status=201))
    expected = {"level": "INFO", "logger": "shop.probe", "message": "partly"}
    expect_equal("line", {**expected, "route": "/carts", "status": 201}, line, help=FIELDS)


def test_an_exception_is_written_with_its_traceback(exercise: ModuleType) -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        line = parse(exercise, record("failed", level=logging.ERROR, exc_info=sys.exc_info()))
    expect_equal("keys", ["exc_info", "level", "logger", "message"], sorted(line), help=FIELDS)
    expect_equal("level", "ERROR", line["level"])
    trace = line["exc_info"]
    expect(
        isinstance(trace, str)
        and trace.startswith("Traceback (most recent call last):")
        and trace.rstrip().endswith("ValueError: bad value"),
        f"expected exc_info to be the formatted traceback, not {trace!r}",
        help="Does the formatter write self.formatException(record.exc_info) as exc_info?",
    )


# One line per request


@pytest.mark.stub_may_pass("the routes are given")
async def test_the_given_routes_answer(app: FastAPI) -> None:
    async with client_for(app) as client:
        items = [(await client.get(f"/items/{item_id}")).json() for item_id in (1, 2)]
        export = await client.get("/items/export")
    expected = [{"id": 1, "name": "tea"}, {"id": 2, "name": "scones"}]
    expect_equal("items", expected, items, help="Keep the given routes as they are.")
    expect_equal(
        "export",
        "".join(json.dumps(item) + "\n" for item in expected),
        export.text,
        help="Keep the given routes as they are.",
    )


@pytest.mark.stub_may_pass("nothing is logged yet")
async def test_no_line_for_the_lifespan(app: FastAPI, logs: Capture) -> None:
    async with client_for(app):
        expect_equal(
            "lines during startup", [], logs.lines(), help="Does a lifespan scope pass through?"
        )
    expect_equal(
        "lines after shutdown", [], logs.lines(), help="Does a lifespan scope pass through?"
    )


async def test_a_found_item(app: FastAPI, logs: Capture) -> None:
    async with client_for(app) as client:
        response = await client.get("/items/1")
    expect_equal("status", 200, response.status_code)
    request_id = response.headers.get(HEADER, "<no header>")
    expected = {
        "level": "INFO",
        "logger": "shop.access",
        "message": "GET /items/{item_id} 200",
        "request_id": request_id,
        "method": "GET",
        "route": "/items/{item_id}",
        "status": 200,
        "duration_ms": 0.0,
    }
    expect_equal("line", expected, logs.line(), help=FIELDS)
    expect(
        GENERATED.fullmatch(request_id),
        f"expected a uuid4 hex id, not {request_id!r}",
        help=REQUEST_ID,
    )


@pytest.mark.parametrize(
    ("method", "path", "route", "status"),
    [
        ("GET", "/items/9", "/items/{item_id}", 404),
        ("GET", "/items/nine", "/items/{item_id}", 422),
        ("DELETE", "/items/1", "/items/{item_id}", 405),
        ("GET", "/items/export", "/items/export", 200),
        ("GET", "/nowhere/42", None, 404),
        ("GET", "/probe/status/499", "/probe/status/{code}", 499),
    ],
)
async def test_route_status_and_message(
    exercise: ModuleType,
    app: FastAPI,
    logs: Capture,
    method: str,
    path: str,
    route: str | None,
    status: int,
) -> None:
    route = route or exercise.UNMATCHED
    async with client_for(app) as client:
        response = await client.request(method, path)
    expect_equal("status", status, response.status_code)
    line = logs.line()
    seen = {key: line.get(key) for key in ("method", "route", "status", "level", "message")}
    expected = {
        "method": method,
        "route": route,
        "status": status,
        "level": "INFO",
        "message": f"{method} {route} {status}",
    }
    help = ROUTE if seen["route"] != route else STATUS if seen["status"] != status else FIELDS
    expect_equal(f"fields of the line for {method} {path}", expected, seen, help=help)


@pytest.mark.stub_may_pass("the constant is given")
async def test_the_unmatched_constant_is_not_a_path(exercise: ModuleType) -> None:
    expect_equal("UNMATCHED", "<unmatched>", exercise.UNMATCHED)


async def test_every_item_id_is_the_same_route(app: FastAPI, logs: Capture) -> None:
    async with client_for(app) as client:
        for item_id in (1, 2, 10_000):
            await client.get(f"/items/{item_id}")
    routes = [line.get("route") for line in logs.lines()]
    expect_equal("routes", ["/items/{item_id}"] * 3, routes, help=ROUTE)


async def test_a_500_response_is_an_error_without_a_traceback(app: FastAPI, logs: Capture) -> None:
    async with client_for(app) as client:
        await client.get("/probe/status/500")
    line = logs.line()
    expect_equal("level", "ERROR", line.get("level"), help=LEVEL)
    expect_equal("status", 500, line.get("status"), help=STATUS)
    expect("exc_info" not in line, f"expected no exc_info without an exception, not {line}")


async def test_an_unhandled_error_is_one_line_with_its_traceback(
    app: FastAPI, logs: Capture, clock: Clock
) -> None:
    exchange = await serve_raw(app, "/boom")
    expect_equal("status sent", 500, exchange.status)
    expect(
        isinstance(exchange.raised, RuntimeError),
        f"expected the RuntimeError to reach the server, not {exchange.raised!r}",
        help=EXCEPTION,
    )
    line = logs.line()
    seen = {key: line.get(key) for key in ("level", "route", "status", "message")}
    expected = {"level": "ERROR", "route": "/boom", "status": 500, "message": "GET /boom 500"}
    expect_equal(
        "fields of the line", expected, seen, help=STATUS if seen["status"] != 500 else LEVEL
    )
    trace = line.get("exc_info")
    expect(
        isinstance(trace, str) and trace.rstrip().endswith("RuntimeError: boom"),
        f"expected exc_info with the traceback of RuntimeError: boom, not {trace!r}",
        help=EXCEPTION,
    )
    logged = [r for r in logs.errors.records if r.exc_info]
    expect_equal("records with a traceback", 1, len(logged), help=EXCEPTION)
    request_id = line.get("request_id")
    expect(
        isinstance(request_id, str) and GENERATED.fullmatch(request_id),
        f"expected a uuid4 hex request_id in the line, not {request_id!r}",
        help=REQUEST_ID,
    )


async def test_an_error_midway_through_a_stream(app: FastAPI, logs: Capture) -> None:
    exchange = await serve_raw(app, "/probe/fail-midway")
    expect(
        isinstance(exchange.raised, ValueError),
        f"expected the ValueError to reach the server, not {exchange.raised!r}",
        help=EXCEPTION,
    )
    line = logs.line()
    seen = {key: line.get(key) for key in ("level", "route", "status")}
    expected = {"level": "ERROR", "route": "/probe/fail-midway", "status": 200}
    expect_equal(
        "fields of the line", expected, seen, help=STATUS if seen["status"] != 200 else LEVEL
    )
    trace = line.get("exc_info")
    expect(
        isinstance(trace, str) and trace.rstrip().endswith("ValueError: the stream broke"),
        f"expected exc_info with the traceback of the ValueError, not {trace!r}",
        help=EXCEPTION,
    )


# Durations from the injected clock


async def test_duration_is_rounded_milliseconds(app: FastAPI, logs: Capture, clock: Clock) -> None:
    async with client_for(app) as client:
        await client.get("/probe/slow")
    expect_equal("duration_ms", 12.346, logs.line().get("duration_ms"), help=DURATION)
    expect_equal("clock", START + 0.0123456, clock.now)


async def test_a_stream_is_timed_to_its_last_byte(app: FastAPI, logs: Capture) -> None:
    async with client_for(app) as client:
        response = await client.get("/probe/stream")
    expect_equal("body", "first\nsecond\n", response.text)
    line = logs.line()
    expect_equal("duration_ms", 750.0, line.get("duration_ms"), help=DURATION)
    expect_equal("status", 200, line.get("status"), help=STATUS)


@pytest.mark.stub_may_pass("the defaults are given")
def test_the_default_clock_is_monotonic(exercise: ModuleType) -> None:
    for name, function in [
        ("create_app", exercise.create_app),
        ("AccessLogMiddleware", exercise.AccessLogMiddleware),
    ]:
        default = inspect.signature(function).parameters["clock"].default
        expect(
            default is time.perf_counter,
            f"expected {name}'s clock to default to time.perf_counter, not {default!r}",
            help="Durations need a monotonic clock: the wall clock can jump.",
        )


# The request id


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-123_X.y", True),
        (LONGEST, True),
        ("a", True),
        (LONGEST + "0", False),
        ("", False),
        ("has space", False),
        ("a/b", False),
        ("café", False),
        ("a[b", False),
    ],
)
async def test_the_request_id(app: FastAPI, logs: Capture, sent: str, kept: bool) -> None:
    async with client_for(app) as client:
        response = await client.get("/items/1", headers={HEADER: sent.encode()})
    echoed = response.headers.get_list(HEADER)
    expect_equal(f"one {HEADER} header", 1, len(echoed), help=REQUEST_ID)
    if kept:
        expect_equal(HEADER, sent, echoed[0], help=REQUEST_ID)
    else:
        expect(
            GENERATED.fullmatch(echoed[0]),
            f"expected a new uuid4 hex id for {sent!r}, not {echoed[0]!r}",
            help=REQUEST_ID,
        )
    expect_equal(
        "request_id in the line", echoed[0], logs.line().get("request_id"), help=REQUEST_ID
    )


async def test_each_request_gets_its_own_new_id(app: FastAPI, logs: Capture) -> None:
    async with client_for(app) as client:
        first = await client.get("/items/1")
        second = await client.get("/items/1")
    ids = [first.headers.get(HEADER), second.headers.get(HEADER)]
    expect(ids[0] != ids[1], f"expected two different ids, not {ids}", help=REQUEST_ID)
    expect_equal("request ids in the lines", ids, [line.get("request_id") for line in logs.lines()])
