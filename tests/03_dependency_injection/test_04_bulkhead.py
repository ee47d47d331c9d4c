"""Hidden checks for 03_dependency_injection/04_bulkhead.

The pricing service is an httpx.MockTransport whose async handler holds every call until
the check answers it, so a check knows exactly which calls are in flight.  Calls are let
through in rounds: wait until three are in flight (an event, bounded by WAIT_S), give the
app SETTLE_STEPS turns of the event loop to let a fourth through if it would (a request
with a free slot reaches the service in a few turns), then answer the round.  The one
slow reader is a raw ASGI call whose `send` blocks on the response's first message.  No
sleeps and no clocks: a wait that runs out ends the check with what it saw.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from asgi_lifespan import LifespanManager

from workbook.testing import (
    AppStartError,
    Failure,
    expect,
    expect_equal,
    expect_json,
    expect_status,
)

CAP = 3
WAIT_S = 1.0  # how long a check waits for calls to reach the service: they take microseconds
HANG_S = 5.0  # a call the check forgot never hangs longer than this
SETTLE_STEPS = 200  # turns of the event loop a request over the cap gets to show up
UNAVAILABLE = {"detail": "pricing service unavailable"}
RETURN_HELP = (
    "Is get_pricing capped with Depends(get_pricing, max_concurrency=3), and does it yield "
    "the client? A dependency that returns gives its slot back as soon as it returns, "
    "before the route calls the service; one that yields keeps it until its exit runs."
)
TOO_HIGH_HELP = "Is the cap higher than three? max_concurrency=3 lets three calls run at once."
TOO_LOW_HELP = "Is the cap lower than three? max_concurrency=3 lets three calls run at once."
PER_ROUTE_HELP = (
    "Does each route declare its own Depends(...)? Every Depends object counts its own "
    "calls: declare it once, in the alias that both routes use."
)
AFTER_RESPONSE_HELP = (
    "Is the slot given back only after the response has been sent? A yield dependency's "
    'exit runs after the response by default; scope="function" runs it when the route '
    "has returned."
)
LEAK_HELP = (
    "Does a failed call keep its slot? A slot you hold yourself must be given back in a "
    "finally (or an async with); max_concurrency does that for you."
)
RELEASED_TWICE_HELP = (
    "Does a failed call give its slot back twice, in an except and again in a finally? "
    "Each extra release adds a slot for good: release once, in the finally (or let "
    "max_concurrency do it)."
)
HEALTH_HELP = "Does /health take a pricing slot? Cap only the routes that call the service."
WAITING_HELP = (
    "Are requests that find every slot taken refused? They wait for a free slot and are "
    "all answered."
)


@dataclass
class Call:
    """One call the pricing service received and has not answered yet."""

    path: str
    reply: anyio.Event = field(default_factory=anyio.Event)
    failure: str | None = None  # "connect", or a status code to answer with


def data_for(path: str) -> dict[str, Any]:
    """What the pricing service knows: /prices/sku-7 costs 7.25, /discounts/code-7 is 7 %."""
    number = int(path.rsplit("-", 1)[1])
    return {"price": number + 0.25} if path.startswith("/prices/") else {"percent": number}


class FakePricing:
    """The pricing service: every call waits until the check answers it (or opens the gate)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []  # in flight: arrived and not answered yet
        self.paths: list[str] = []  # every path asked, in arrival order
        self.peak = 0
        self._open = False
        self._changed = anyio.Event()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        call = Call(request.url.path)
        self.paths.append(call.path)
        if not self._open:
            self.calls.append(call)
            self.peak = max(self.peak, len(self.calls))
            self.notify()
            with anyio.move_on_after(HANG_S):
                await call.reply.wait()
        if call.failure == "connect":
            raise httpx.ConnectError("pricing service down", request=request)
        if call.failure is not None:
            return httpx.Response(int(call.failure), json={"error": "down"})
        return httpx.Response(200, json=data_for(call.path))

    def notify(self) -> None:
        """Wake a check waiting for calls: something it waits on may have changed."""
        self._changed.set()
        self._changed = anyio.Event()

    async def until_in_flight(self, count: int, out: Callable[[], int] | None = None) -> bool:
        """Wait until `count` calls are in flight; give up after WAIT_S, or as soon as fewer
        than `count` requests are still `out` (the others came back without a call)."""
        with anyio.move_on_after(WAIT_S):
            while len(self.calls) < count and (out is None or out() >= count):
                await self._changed.wait()
        return len(self.calls) >= count

    def answer(self, failures: tuple[str, ...] = ()) -> None:
        """Answer every call in flight: the first ones fail as listed, the others succeed."""
        calls, self.calls = self.calls, []
        for number, call in enumerate(calls):
            call.failure = failures[number] if number < len(failures) else None
            call.reply.set()
        self.notify()

    def open(self) -> None:
        """Answer every call in flight, and every later one at once."""
        self._open = True
        self.answer()


async def settle() -> None:
    """Give every request that is not waiting for a slot time to reach the service."""
    for _ in range(SETTLE_STEPS):
        await anyio.lowlevel.checkpoint()


@dataclass
class Running:
    asgi: Any  # the app with its lifespan state, for raw ASGI calls
    client: httpx.AsyncClient
    fake: FakePricing


@asynccontextmanager
async def running(exercise: ModuleType) -> AsyncIterator[Running]:
    """The app on a fresh fake pricing service, its lifespan running."""
    fake = FakePricing()
    manager = LifespanManager(exercise.create_app(httpx.MockTransport(fake.handle)))
    try:
        await manager.__aenter__()
    except Exception as exc:
        raise AppStartError(f"{type(exc).__name__}: {exc}") from exc
    try:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            try:
                yield Running(manager.app, client, fake)
            finally:
                fake.open()
    finally:
        await manager.__aexit__(None, None, None)


@dataclass
class Burst:
    """What a burst of requests saw: calls in flight per round, then every answer."""

    paths: list[str]
    rounds: list[int] = field(default_factory=list)
    answers: dict[str, httpx.Response | Exception] = field(default_factory=dict)
    answered: anyio.Event = field(default_factory=anyio.Event)  # every request came back
    peak: int = 0  # most calls in flight at any moment, rounds or not


async def burst(running: Running, paths: list[str], failures: tuple[str, ...] = ()) -> Burst:
    """Send every request at once; let the calls through in rounds of up to CAP.

    The first round's calls fail as `failures` lists.  The burst stops early when a round
    does not come out at the expected size; then it answers every call, and gives the
    requests WAIT_S to come back (a request stuck on a slot that was never given back
    does not).
    """
    seen = Burst(paths)
    fake = running.fake
    async with anyio.create_task_group() as group:
        for path in paths:
            group.start_soon(send, running.client, running.fake, path, seen)
        try:
            left = len(paths)
            while left:
                expected = min(CAP, left)
                await fake.until_in_flight(expected, lambda: len(paths) - len(seen.answers))
                await settle()
                seen.rounds.append(len(fake.calls))
                if len(fake.calls) != expected:
                    break
                fake.answer(() if seen.rounds[1:] else failures)
                left -= expected
        finally:
            fake.open()
            with anyio.move_on_after(WAIT_S):
                await seen.answered.wait()
            group.cancel_scope.cancel()
    seen.peak = fake.peak
    return seen


async def send(client: httpx.AsyncClient, fake: FakePricing, path: str, seen: Burst) -> None:
    """GET `path` and keep its answer (an error escaping the app is its answer too)."""
    try:
        seen.answers[path] = await client.get(path)
    except Exception as exc:
        seen.answers[path] = exc
    if len(seen.answers) == len(seen.paths):
        seen.answered.set()
    fake.notify()  # a request that came back will never make a call: the wait may be over


def expect_burst(
    seen: Burst,
    rounds: list[int],
    *,
    what: str,
    later: str = "once the calls before them were answered",
    too_high: str = TOO_HIGH_HELP,
    failed: tuple[str, ...] = (),
) -> None:
    """Nobody was refused, the calls in flight per round were exactly `rounds`, and every
    request got its answer: 502 for the `failed` ones, the service's data for the others."""
    for answer in seen.answers.values():
        if isinstance(answer, httpx.Response) and answer.status_code in (429, 503):
            expect_status(answer, 200, help=WAITING_HELP)
    for number, (want, got) in enumerate(zip(rounds, seen.rounds, strict=False)):
        when = f"{what}, {later}" if number else what
        if got > want:
            raise Failure(
                f"expected at most {want} pricing calls in flight at once {when}, not {got}",
                help=RETURN_HELP if got == len(seen.paths) else too_high,
            )
        if got < want:
            raise Failure(
                f"expected {want} pricing calls in flight at once {when}, not {got}",
                help=LEAK_HELP if number else TOO_LOW_HELP,
            )
    if seen.peak > max(rounds):
        raise Failure(
            f"expected at most {max(rounds)} pricing calls in flight at once {what}, "
            f"not {seen.peak}",
            help=too_high,
        )
    for path in seen.paths:
        answer = seen.answers.get(path)
        if answer is None:
            raise Failure(
                f"GET {path} was never answered, though every call had been answered",
                help=LEAK_HELP,
            )
        if isinstance(answer, Exception):
            raise Failure(f"GET {path} raised {type(answer).__name__}: {answer}")
        if path in failed:
            expect_status(answer, 502)
            expect_json(answer, UNAVAILABLE)
            continue
        expect_status(answer, 200)
        kind, key = path.split("/")[1:]
        label = "sku" if kind == "quotes" else "code"
        expect_json(answer, {label: key, **data_for(path.replace("/quotes/", "/prices/"))})


def quotes(count: int, start: int = 0) -> list[str]:
    return [f"/quotes/sku-{number}" for number in range(start, start + count)]


def discounts(count: int, start: int = 0) -> list[str]:
    return [f"/discounts/code-{number}" for number in range(start, start + count)]


async def test_three_quotes_at_once(exercise: ModuleType) -> None:
    """ten /quotes requests at once: exactly three pricing calls in flight at a time, and
    all ten answered"""
    paths = quotes(10)
    async with running(exercise) as app:
        seen = await burst(app, paths)
    expect_burst(seen, [3, 3, 3, 1], what="for ten /quotes requests")


async def test_three_discounts_at_once(exercise: ModuleType) -> None:
    """ten /discounts requests at once: exactly three pricing calls in flight at a time"""
    paths = discounts(10)
    async with running(exercise) as app:
        seen = await burst(app, paths)
    expect_burst(seen, [3, 3, 3, 1], what="for ten /discounts requests")


async def test_slots_shared_by_both_routes(exercise: ModuleType) -> None:
    """five /quotes and five /discounts requests at once share the same three slots"""
    paths = [path for pair in zip(quotes(5), discounts(5), strict=True) for path in pair]
    async with running(exercise) as app:
        seen = await burst(app, paths)
    expect_burst(
        seen, [3, 3, 3, 1], what="for five /quotes and five /discounts", too_high=PER_ROUTE_HELP
    )


async def test_failed_calls_free_their_slots(exercise: ModuleType) -> None:
    """a failed pricing call answers 502 and gives its slot back to a waiting request"""
    paths = quotes(6)
    failures = ("connect", "503", "404")  # a transport error and two statuses outside 2xx
    async with running(exercise) as app:
        seen = await burst(app, paths, failures)
    failed = tuple(path.replace("/prices/", "/quotes/") for path in app.fake.paths[:3])
    expect_burst(
        seen,
        [3, 3],
        what="for six /quotes requests",
        later="after three calls failed",
        failed=failed,
    )


async def test_failed_calls_keep_the_cap(exercise: ModuleType) -> None:
    """after three failed calls the cap is still three: each gives back its one slot, not
    more"""
    paths = quotes(9)
    failures = ("connect", "503", "404")
    async with running(exercise) as app:
        seen = await burst(app, paths, failures)
    failed = tuple(path.replace("/prices/", "/quotes/") for path in app.fake.paths[:3])
    expect_burst(
        seen,
        [3, 3, 3],
        what="for nine /quotes requests",
        later="after three calls failed",
        too_high=RELEASED_TWICE_HELP,
        failed=failed,
    )


class SlowReader:
    """A raw ASGI request whose client does not read the response until told to."""

    def __init__(self, asgi: Any, path: str) -> None:
        self.asgi = asgi
        self.path = path
        self.started = anyio.Event()  # the app began to send the response
        self.read = anyio.Event()  # the client reads at last
        self.done = anyio.Event()
        self.messages: list[dict[str, Any]] = []

    async def run(self) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"test")],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
        }
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.read.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.started.set()
                await self.read.wait()
            self.messages.append(message)

        try:
            await self.asgi(scope, receive, send)
        finally:
            self.done.set()


async def test_slot_freed_before_the_response_is_sent(exercise: ModuleType) -> None:
    """a request gives its slot back once its route has returned, before its response is
    sent: a client slow to read never holds a slot"""
    paths = quotes(4, start=1)
    seen = Burst(paths)
    async with running(exercise) as app, anyio.create_task_group() as group:
        slow = SlowReader(app.asgi, "/quotes/sku-0")
        group.start_soon(slow.run)
        try:
            await app.fake.until_in_flight(1)
            app.fake.answer()
            with anyio.move_on_after(WAIT_S):
                await slow.started.wait()
            if slow.started.is_set():
                seen = await burst(app, paths)
        finally:
            slow.read.set()
            app.fake.open()
            with anyio.move_on_after(WAIT_S):
                await slow.done.wait()
            group.cancel_scope.cancel()
    expect(slow.started.is_set(), "GET /quotes/sku-0 never began to send its response")
    if seen.rounds[0] < CAP:
        raise Failure(
            f"while another client was slow to read its response, only {seen.rounds[0]} "
            f"pricing calls could run at once, not {CAP}",
            help=AFTER_RESPONSE_HELP,
        )
    expect_burst(seen, [3, 1], what="while another client was slow to read its response")
    expect_equal("status sent to the slow client", 200, slow.messages[0]["status"])


@pytest.mark.stub_may_pass("the stub caps nothing, so nothing holds /health up")
async def test_health_needs_no_slot(exercise: ModuleType) -> None:
    """GET /health answers while all three slots are taken and more requests wait"""
    seen = Burst(quotes(5))
    async with running(exercise) as app, anyio.create_task_group() as group:
        for path in seen.paths:
            group.start_soon(send, app.client, app.fake, path, seen)
        try:
            await app.fake.until_in_flight(CAP)
            with anyio.move_on_after(WAIT_S) as waited:
                response = await app.client.get("/health")
        finally:
            app.fake.open()
            with anyio.move_on_after(WAIT_S):
                await seen.answered.wait()
            group.cancel_scope.cancel()
    expect(not waited.cancelled_caught, "GET /health waited for a pricing slot", help=HEALTH_HELP)
    expect_status(response, 200)
    expect_json(response, {"status": "ok"})
