"""Helpers for hidden suites: checks that fail in one voice, and a client for an app.

Every failed check raises :class:`Mismatch` (or :class:`Failure`), whose message reads
like check50's: ``expected status 201, not 200``.  The plugin turns its fields into the
expected/actual block a learner sees, so suites never hand-roll f-strings.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
from asgi_lifespan import LifespanManager

from workbook import messages

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


class AppExited(Failure):
    """The code under test raised SystemExit, KeyboardInterrupt or GeneratorExit (or a group
    of them): a server never expects these from an app, and in a test they would stop the
    event loop or the whole run.  ``raised`` is what the code raised; ``during`` says when,
    in the learner's words ("while the app started"), when that is known."""

    def __init__(self, raised: BaseException, during: str | None = None) -> None:
        leaf = _exit_leaf(raised) or raised
        advice = messages.EXIT_ADVICE.get(type(leaf).__name__, messages.EXIT_ADVICE["SystemExit"])
        when = f" {during}" if during else ""
        super().__init__(messages.EXITED.format(raised=_describe(raised), when=when, advice=advice))
        self.raised = raised
        self.during = during
        self.reported = False


_interrupts = {"tracked": False, "delivered": 0}


def track_interrupts() -> None:
    """Count the SIGINTs this process receives from now on; a grading child calls this.

    It tells a KeyboardInterrupt the learner's code raised (a failure of the check that ran
    it, and the run goes on) from one a signal delivered (it stops the run, as ever).  A
    grading child leads a session of its own, so a terminal's Ctrl-C never reaches it:
    there a SIGINT can only come from a ``kill``.  In a plain ``pytest`` run nothing is
    tracked, so every KeyboardInterrupt stops the run, as a person pressing Ctrl-C expects.
    """
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return  # someone chose their own handler: leave it, and convert nothing

    def counted(signum: int, frame: Any) -> None:
        _interrupts["delivered"] += 1
        signal.default_int_handler(signum, frame)

    try:
        signal.signal(signal.SIGINT, counted)
    except ValueError:  # not the main thread
        return
    _interrupts["tracked"] = True


def _control_flow(exc: BaseException) -> bool:
    """An exception that steers the test run and must pass through untouched."""
    if isinstance(exc, Exception):
        return False
    if isinstance(exc, asyncio.CancelledError):
        return True
    if isinstance(exc, KeyboardInterrupt):
        return not _interrupts["tracked"] or _interrupts["delivered"] > 0
    # pytest's outcomes (skip, fail, xfail, a timeout's failure) are BaseExceptions
    return not isinstance(exc, (SystemExit, GeneratorExit, BaseExceptionGroup))


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _exit_leaf(exc: BaseException) -> BaseException | None:
    """The first SystemExit, KeyboardInterrupt or GeneratorExit in ``exc``, if it holds one."""
    for leaf in _leaves(exc):
        if isinstance(leaf, (SystemExit, KeyboardInterrupt, GeneratorExit)):
            return leaf
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        leaf = _exit_leaf(exc)
        return messages.EXIT_GROUP.format(leaf=repr(leaf)) if leaf else repr(exc)
    return repr(exc)


def exit_failure(exc: BaseException, during: str | None = None) -> AppExited | None:
    """``exc`` as a failure of the check, if the code under test exited rather than failed.

    None for an ordinary ``Exception`` and for what steers the run: pytest's skip, fail and
    xfail, a cancellation, a KeyboardInterrupt that a signal delivered.
    """
    if isinstance(exc, Exception) or _exit_leaf(exc) is None:
        return None
    if any(_control_flow(leaf) for leaf in _leaves(exc)):
        return None
    return AppExited(exc, during)


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
    exits = _guard_tasks()
    seen = len(exits)
    manager = LifespanManager(_state_per_request(app), startup_timeout=STARTUP_TIMEOUT)
    try:
        await manager.__aenter__()
    except AppExited as exc:
        exc.reported = True
        raise AppStartError(str(exc).replace(f" {exc.during}:", ":", 1)) from exc.raised
    except Exception as exc:
        raise AppStartError(f"{type(exc).__name__}: {exc}") from exc
    try:
        async with _client(manager.app, raise_app_exceptions) as client:
            yield client, manager._state
    finally:
        await manager.__aexit__(None, None, None)
    _raise_unreported(exits[seen:])


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

    return _no_exits(serve)


def _client(app: Any, raise_app_exceptions: bool) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_no_exits(app), raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _no_exits(app: Any) -> Any:
    """``app`` whose exits (SystemExit and friends) become :class:`AppExited` failures.

    Raised in a task, SystemExit and KeyboardInterrupt break out of the event loop itself,
    leaving it half-stopped for every later check; here they end as an ordinary exception
    of the request, or of the lifespan, that says when the app raised them.
    """
    if getattr(app, "workbook_no_exits", False):
        return app

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        _guard_tasks()
        during = [_during(scope, started=False)]

        async def receive_(*args: Any) -> Any:
            message = await receive(*args)
            if message.get("type") == "lifespan.shutdown":
                during[0] = messages.EXITED_STOPPING
            return message

        async def send_(message: dict[str, Any]) -> None:
            kind = message.get("type")
            if kind == "lifespan.startup.complete":
                during[0] = messages.EXITED_RUNNING
            await send(message)
            if kind == "http.response.body" and not message.get("more_body", False):
                during[0] = _during(scope, started=True)

        try:
            await app(scope, receive_, send_)
        except Exception as exc:
            leaf = _exited_inside(exc)
            if leaf is None or leaf.during is not None:
                raise
            # raised in a task the app started, and maybe answered with a 500 since
            leaf.reported = True
            when = during[0] if scope.get("type") == "lifespan" else _during(scope, started=False)
            raise AppExited(leaf.raised, when) from leaf.raised
        except BaseException as exc:
            failure = exit_failure(exc, during[0])
            if failure is None:
                raise
            raise failure from exc

    guarded.workbook_no_exits = True  # type: ignore[attr-defined]
    return guarded


def _during(scope: dict[str, Any], *, started: bool) -> str:
    kind = scope.get("type")
    if kind == "lifespan":
        return messages.EXITED_STARTING
    target = f"{scope.get('method', 'WebSocket')} {scope.get('path', '')}"
    if kind == "http" and started:
        return messages.EXITED_AFTER_ANSWER.format(request=target)
    return messages.EXITED_ANSWERING.format(request=target)


def _exited_inside(exc: BaseException) -> AppExited | None:
    for leaf in _leaves(exc):
        if isinstance(leaf, AppExited):
            return leaf
    return None


def _guard_tasks() -> list[AppExited]:
    """Make every task the running loop starts from now on turn an exit into AppExited.

    Idempotent; the exits its tasks raised, in order, so that one nobody awaited (a task
    the app started and forgot) still fails the check.  Outside asyncio, nothing.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return []
    factory = loop.get_task_factory()
    exits: list[AppExited] | None = getattr(factory, "workbook_exits", None)
    if exits is not None:
        return exits
    exits = []

    async def no_exit(coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coro
        except BaseException as exc:
            failure = exit_failure(exc)
            if failure is None:
                raise
            exits.append(failure)
            raise failure from exc

    def guarded(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Future[Any]:
        if asyncio.iscoroutine(coro):
            coro = no_exit(coro)
        if factory is None:
            return asyncio.Task(coro, loop=loop, **kwargs)
        return factory(loop, coro, **kwargs)

    guarded.workbook_exits = exits  # type: ignore[attr-defined]
    loop.set_task_factory(guarded)  # type: ignore[arg-type]  # it takes a context too
    return exits


def _raise_unreported(exits: list[AppExited]) -> None:
    for failure in exits:
        if not failure.reported:
            failure.reported = True
            raise AppExited(failure.raised, messages.EXITED_IN_TASK)


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
        """Serve the request with ``app``; what it raises goes to ``raised``, as to a server.

        An exit (SystemExit and friends) is kept as :class:`AppExited`, as a server logs it.
        """
        try:
            await _no_exits(app)(self.scope, self.receive, self.send)
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
    _guard_tasks()
    with anyio.fail_after(guard):
        async with LifespanManager(_state_per_request(app)) as manager:
            await exchange.run(manager.app)
    return exchange
