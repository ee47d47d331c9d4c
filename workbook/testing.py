"""Helpers for hidden suites: checks that fail in one voice, and a client for an app.

Every failed check raises :class:`Mismatch` (or :class:`Failure`), whose message reads
like check50's: ``expected status 201, not 200``.  The plugin turns its fields into the
expected/actual block a learner sees, so suites never hand-roll f-strings.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
from asgi_lifespan import LifespanManager

BODY_EXCERPT = 300
DIFF_LINES = 40
STARTUP_TIMEOUT = 5.0
HANG_GUARD = 5.0  # seconds: a guard against an app that never answers, never a measurement
SERVER_SCOPE: dict[str, Any] = {  # what a server puts in every HTTP scope it makes here
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "scheme": "http",
    "root_path": "",
    "client": ("127.0.0.1", 50000),
    "server": ("test", 80),
}


class Failure(AssertionError):
    """A requirement not met, with an optional question that points at the usual mistake."""

    def __init__(self, message: str, *, help: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.help = help
        self.details = {key: value for key, value in details.items() if value is not None}


class Mismatch(Failure):
    """Something was observed other than what the requirement asks for."""

    def __init__(
        self, what: str, expected: Any, actual: Any, *, help: str | None = None, **details: Any
    ) -> None:
        super().__init__(
            f"expected {what} {_show(expected)}, not {_show(actual)}",
            help=help,
            what=what,
            expected=expected,
            actual=actual,
            **details,
        )


class AppStartError(Exception):
    """The app under test did not start: every later check depends on it."""


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (dict, list)):
        return _compact(value)
    return repr(value)


def _compact(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= BODY_EXCERPT else text[: BODY_EXCERPT - 1] + "…"


def _request_line(response: httpx.Response) -> str:
    request = response.request
    target = request.url.raw_path.decode("ascii", "replace")
    return f"{request.method} {target}"


def _body_excerpt(response: httpx.Response) -> str:
    text = response.text
    return text if len(text) <= BODY_EXCERPT else text[: BODY_EXCERPT - 1] + "…"


def json_diff(expected: Any, actual: Any) -> list[str]:
    """Unified diff of two JSON values, pretty-printed with sorted keys."""
    left = json.dumps(expected, indent=2, sort_keys=True, default=str).splitlines()
    right = json.dumps(actual, indent=2, sort_keys=True, default=str).splitlines()
    lines = difflib.unified_diff(left, right, "expected", "actual", lineterm="", n=2)
    body = [line for line in list(lines)[2:] if not line.startswith("@@")]
    if len(body) > DIFF_LINES:
        body = [*body[:DIFF_LINES], f"… {len(body) - DIFF_LINES} more lines"]
    return body


def expect_equal(what: str, expected: Any, actual: Any, *, help: str | None = None) -> None:
    """Fail with ``expected <what> X, not Y`` unless the two are equal."""
    if expected != actual:
        diff = json_diff(expected, actual) if isinstance(expected, (dict, list)) else None
        raise Mismatch(what, expected, actual, help=help, diff=diff)


def expect(condition: object, message: str, *, help: str | None = None) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise Failure(message, help=help)


def expect_status(response: httpx.Response, expected: int, *, help: str | None = None) -> None:
    """The response has this status code."""
    if response.status_code != expected:
        raise Mismatch(
            "status",
            expected,
            response.status_code,
            help=help,
            request=_request_line(response),
            body=_body_excerpt(response),
        )


def response_json(response: httpx.Response) -> Any:
    """The decoded JSON body, or a failure saying what came back instead."""
    try:
        return response.json()
    except ValueError:
        content_type = response.headers.get("content-type", "no content-type")
        raise Failure(
            f"expected a JSON body, not {content_type}",
            request=_request_line(response),
            body=_body_excerpt(response),
        ) from None


def expect_json(response: httpx.Response, expected: Any, *, help: str | None = None) -> None:
    """The response body is exactly this JSON value."""
    actual = response_json(response)
    if actual != expected:
        raise Mismatch(
            "body",
            expected,
            actual,
            help=help,
            request=_request_line(response),
            diff=json_diff(expected, actual),
        )


def expect_header(
    response: httpx.Response, name: str, expected: str | None, *, help: str | None = None
) -> None:
    """The header has this value; ``None`` means it must be absent."""
    actual = response.headers.get(name)
    if actual != expected:
        raise Mismatch(
            f"header {name}",
            expected if expected is not None else "to be absent",
            actual if actual is not None else "no such header",
            help=help,
            request=_request_line(response),
        )


def expect_keys(what: str, expected: set[str], actual: Mapping[str, Any]) -> None:
    """A mapping has exactly these keys."""
    keys = set(actual)
    if keys != expected:
        missing, extra = sorted(expected - keys), sorted(keys - expected)
        parts = [f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else ""]
        raise Failure(f"{what}: " + ", ".join(part for part in parts if part))


def provide(value: Any) -> Callable[[], Awaitable[Any]]:
    """A dependency override handing out ``value``; async, so it never borrows a thread."""

    async def dependency() -> Any:
        return value

    return dependency


@asynccontextmanager
async def client_for(
    app: Any, *, lifespan: bool = True, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """An ``AsyncClient`` talking to ``app`` in-process, with its lifespan running.

    With ``raise_app_exceptions=False`` an exception escaping the app does not surface in
    the test: the client gets what the app sent, a 500 when the error came before the
    response started, or the started response with its body cut short when it came later.
    The transport buffers the whole body: to see a stream chunk by chunk, drive the app
    with :class:`RawExchange` or :func:`serve_raw`.
    """
    if not lifespan:
        async with _client(app, raise_app_exceptions) as client:
            yield client
        return
    async with running(app, raise_app_exceptions=raise_app_exceptions) as (client, _):
        yield client


@asynccontextmanager
async def running(
    app: Any, *, raise_app_exceptions: bool = True
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    """Like :func:`client_for`, and the state the lifespan yielded: the app's engine, say."""
    manager = LifespanManager(_state_per_request(app), startup_timeout=STARTUP_TIMEOUT)
    try:
        await manager.__aenter__()
    except Exception as exc:
        raise AppStartError(f"{type(exc).__name__}: {exc}") from exc
    try:
        async with _client(manager.app, raise_app_exceptions) as client:
            yield client, manager._state
    finally:
        await manager.__aexit__(None, None, None)


def _state_per_request(app: Any) -> Any:
    """``app`` whose requests each get a shallow copy of the lifespan state, as servers give.

    Uvicorn and Starlette's TestClient copy the state into every request's scope;
    asgi-lifespan hands every request the same dict, so without this copy a value a
    request assigns to ``request.state`` would show in the next one, here only.
    """

    async def serve(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan" and "state" in scope:
            scope = {**scope, "state": dict(scope["state"])}
        await app(scope, receive, send)

    return serve


def _client(app: Any, raise_app_exceptions: bool) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


class RawExchange:
    """One HTTP request driven through an app with our own ``receive`` and ``send``.

    For checks that must see what a server sees, as the app sends it: httpx's
    ``ASGITransport`` (and so :func:`client_for`) buffers the whole body and lets the app
    finish before the test gets any of it.  Here every message the app sends is recorded in
    ``messages`` and handed to ``on_send`` the moment it is sent, so a check can read a
    stream chunk by chunk or interleave the messages with the app's own events; ``receive``
    hands over an empty request body, then waits, as a connected client does, until
    :meth:`disconnect`.  :meth:`run` keeps what the app raises in ``raised``, where a server
    would log it.  ``path`` may carry a query (``/notes?page=2``).
    """

    def __init__(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: Sequence[tuple[bytes, bytes]] = (),
        on_send: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        route, _, query = path.partition("?")
        self.scope: dict[str, Any] = {
            **SERVER_SCOPE,
            "method": method,
            "path": route,
            "raw_path": route.encode(),
            "query_string": query.encode(),
            "headers": [(b"host", b"test"), *headers],
        }
        self.messages: list[dict[str, Any]] = []
        self.raised: Exception | None = None
        self._on_send = on_send
        self._requested = False
        self._disconnected = anyio.Event()

    @property
    def starts(self) -> list[dict[str, Any]]:
        """The ``http.response.start`` messages sent, in order (more than one is a bug)."""
        return [message for message in self.messages if message["type"] == "http.response.start"]

    @property
    def status(self) -> int | None:
        """The status of the first response start, the one a client gets."""
        return self.starts[0]["status"] if self.starts else None

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` in the first response start."""
        wanted = name.lower().encode()
        headers = self.starts[0]["headers"] if self.starts else []
        return [value.decode("latin-1") for key, value in headers if key.lower() == wanted]

    @property
    def body(self) -> bytes:
        """The body sent so far, all chunks together."""
        chunks = [m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"]
        return b"".join(chunks)

    async def receive(self) -> dict[str, Any]:
        if self._requested:
            await self._disconnected.wait()
            return {"type": "http.disconnect"}
        self._requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if self._on_send is not None:
            await self._on_send(message)

    def disconnect(self) -> None:
        """The client leaves: ``receive`` answers ``http.disconnect`` from now on."""
        self._disconnected.set()

    async def run(self, app: Any) -> None:
        """Serve the request with ``app``; what it raises goes to ``raised``, as to a server."""
        try:
            await app(self.scope, self.receive, self.send)
        except Exception as exc:
            self.raised = exc


async def serve_raw(
    app: Any,
    path: str,
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
    on_send: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    guard: float = HANG_GUARD,
) -> RawExchange:
    """GET ``path`` from ``app`` as a server would, its lifespan running; the exchange.

    The client stays connected until the app is done.  ``guard`` only stops an app that
    never finishes (``TimeoutError``): no check may depend on it.
    """
    exchange = RawExchange(path, headers=headers, on_send=on_send)
    with anyio.fail_after(guard):
        async with LifespanManager(_state_per_request(app)) as manager:
            await exchange.run(manager.app)
    return exchange
