"""Hidden suite for 13_resilience/03_circuit_breaker: closed, open, half-open, one trial.

The breaker is driven as a transition table: each row brings it to a state, sends one call to
a scripted quote service (an `httpx.MockTransport` with an async handler, which counts the
requests that reach it), and reads the state that follows and what reached the transport.
Time is a `Clock` the checks move by hand (the breaker's `clock`); the service can move it
while a request is in flight, as a slow timeout does. A call held inside the service (an
event it waits for) shows what the breaker does while its trial runs: no sleeps anywhere.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest

from workbook.testing import (
    HANG_GUARD,
    Failure,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    running,
)

START = 1000.0  # what the test clock reads when a check begins
RESET = 30.0
THRESHOLD = 3  # the breakers built here; the app's own uses the defaults, 5 and 30 s
EPSILON = 2**-10  # a power of two: START + RESET - EPSILON is exact in floating point
QUOTE = {"symbol": "ACME", "price_cents": 1250}
FAILURES = ["500", "503", "connect", "timeout"]
NOT_FAILURES = ["404", "499", "bug"]

COUNT = (
    "Does each failure add one to the failures in a row, and does the breaker open when "
    "that count reaches failure_threshold (>=, not >)?"
)
IN_A_ROW = (
    "Does a call that returns set the failures in a row back to 0? The breaker counts "
    "failures in a row, not failures in all."
)
WHICH = (
    "Is a failure only an instance of failure_types (except self.failure_types)? Any other "
    "exception goes through as it was raised and leaves the breaker as it was."
)
REFUSED = (
    "While open, is every call refused with CircuitOpenError before fn is called? The "
    "point of the breaker is that a failing upstream gets no traffic."
)
TIMER = (
    "Is the breaker open while clock() < opened_at + reset_timeout, and half-open from "
    "clock() >= opened_at + reset_timeout on? Compare the exact floats, without rounding."
)
RETRY_AFTER = (
    "Is the refusal CircuitOpenError(retry_after=opened_at + reset_timeout - clock()), the "
    "time left, read from the clock at the moment of the call?"
)
WHEN_BACK = (
    "Is opened_at read from clock() after fn raised? A failure that took seconds to come "
    "back (a timeout) must not eat into the pause."
)
ONE_TRIAL = (
    "In half-open, does the first call mark a trial as running, so that every other call "
    "is refused with CircuitOpenError(retry_after=0.0) until it ends?"
)
TRIAL_FAILED = (
    "Does a failed trial open the breaker again, with opened_at = clock() read when the "
    "trial came back, so that a whole new reset_timeout passes before the next trial?"
)
TRIAL_PASSED = "Does a trial that returns close the breaker and set the failures in a row to 0?"
TRIAL_FREED = (
    "Is the trial's mark cleared however the trial ends (a finally)? An exception that is "
    "not a failure, or a cancellation, must leave the breaker half-open, ready for a trial."
)
ZERO = (
    "Is opened_at compared with None (is None), rather than tested for truth? A clock may "
    "read 0.0: time.monotonic() counts from an arbitrary point."
)
SETTINGS = (
    "Does the constructor raise ValueError for failure_threshold < 1 or reset_timeout < 0, "
    "and accept failure_threshold 1 and reset_timeout 0?"
)
DEFAULTS = "Are the defaults failure_threshold=5 and reset_timeout=30.0?"
TYPES = "Does the breaker use the failure_types it was given, rather than FAILURE_TYPES?"
HTTP_503 = (
    "Does the route catch CircuitOpenError and raise HTTPException(503, ..., headers="
    '{"Retry-After": ...}) with the time left rounded up, math.ceil, and at least 1?'
)
PER_APP = (
    "Is there one breaker per app, made in its lifespan and shared by every request? A "
    "breaker made per request never sees a second failure; a module-level one is shared "
    "by every app."
)


class Bug(Exception):
    """Not a failure of the upstream: what a programming mistake raises."""


class Clock:
    """A clock that moves only when a check moves it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Quotes:
    """The scripted quote service: answers with `outcome`, counting the requests that reach it.

    `late` moves the clock while a request is in flight; `hold`, once set to an event, holds
    the first request that comes until the event is set, and `entered` tells it has come.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.outcome = "ok"
        self.late = 0.0
        self.calls = 0
        self.paths: list[str] = []
        self.hold: anyio.Event | None = None
        self.entered = anyio.Event()

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        self.paths.append(request.url.path)
        if self.hold is not None and not self.entered.is_set():  # only the first one waits
            self.entered.set()
            await self.hold.wait()
        self.clock.now += self.late
        outcome = self.outcome
        if outcome == "ok":
            return httpx.Response(200, json={**QUOTE, "symbol": request.url.path.split("/")[-1]})
        if outcome == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if outcome == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if outcome == "bug":
            raise Bug("a bug, not an outage")
        return httpx.Response(int(outcome), json={"detail": f"status {outcome}"})


class Rig:
    """A breaker under test, its clock, and a client of the scripted service."""

    def __init__(self, exercise: ModuleType, client: httpx.AsyncClient, quotes: Quotes) -> None:
        self.exercise = exercise
        self.client = client
        self.quotes = quotes
        self.clock = quotes.clock

    def breaker(self, **settings: Any) -> Any:
        settings = {"failure_threshold": THRESHOLD, "reset_timeout": RESET} | settings
        return self.exercise.CircuitBreaker(clock=self.clock, **settings)

    def raised_by(self, outcome: str) -> type[BaseException] | None:
        """The exception a call reaching the service with this outcome lets through."""
        return {
            "ok": None,
            "500": self.exercise.UpstreamError,
            "503": self.exercise.UpstreamError,
            "404": self.exercise.UnknownSymbol,
            "499": httpx.HTTPStatusError,
            "connect": httpx.ConnectError,
            "timeout": httpx.ReadTimeout,
            "bug": Bug,
        }[outcome]

    async def call(self, breaker: Any, outcome: str = "ok") -> BaseException | None:
        """One call through the breaker with the service answering `outcome`; what it raised."""
        self.quotes.outcome = outcome
        try:
            with anyio.fail_after(HANG_GUARD):
                await breaker.call(self.exercise.fetch_quote, self.client, "ACME")
        except Exception as error:
            return error
        return None

    async def expect_call(
        self, breaker: Any, outcome: str, *, reaches: bool = True, help: str | None = None
    ) -> BaseException | None:
        """A call raising what the contract names (or nothing), reaching the service or not."""
        before = self.quotes.calls
        error = await self.call(breaker, outcome)
        reached = self.quotes.calls - before
        expected = self.raised_by(outcome) if reaches else self.exercise.CircuitOpenError
        expect_equal(
            "requests reaching the quote service",
            1 if reaches else 0,
            reached,
            help=help or REFUSED,
        )
        expect_same_error(expected, error, help=help)
        return error

    async def fail(self, breaker: Any, times: int) -> None:
        for _ in range(times):
            await self.expect_call(breaker, "503", help=COUNT)

    async def bring_to(self, breaker: Any, start: str) -> None:
        """Bring the breaker to one of the table's starting states."""
        if start == "2 failures":
            await self.fail(breaker, 2)
        elif start in ("open", "half_open"):
            await self.fail(breaker, THRESHOLD)
            self.clock.now += 10.0 if start == "open" else RESET
            help = COUNT if start == "open" else TIMER
            expect_state(breaker, start, help, when=" before the call")


def expect_same_error(
    expected: type[BaseException] | None, error: BaseException | None, help: str | None = None
) -> None:
    """The call raised an exception of exactly this class, or returned when `expected` is None."""
    name = expected.__name__ if expected else "no exception"
    actual = f"{type(error).__name__}: {error}" if error is not None else "no exception"
    expect(
        type(error) is expected if expected else error is None,
        f"expected the call to raise {name}, not {actual}",
        help=help,
    )


def expect_state(breaker: Any, expected: str, help: str, when: str = "") -> None:
    expect_equal(f"breaker.state{when}", expected, breaker.state, help=help)


@pytest.fixture
async def rig(exercise: ModuleType) -> AsyncIterator[Rig]:
    quotes = Quotes(Clock())
    transport = httpx.MockTransport(quotes.handler)
    async with httpx.AsyncClient(transport=transport, base_url=exercise.UPSTREAM) as client:
        yield Rig(exercise, client, quotes)


STUB_MAY_PASS = pytest.mark.stub_may_pass("the untouched breaker lets every call through")


def row(start: str, outcome: str, after: str, reaches: bool = True, stub: bool = False) -> Any:
    """A row of the table: where the breaker starts, what the service does, the state after."""
    marks = [STUB_MAY_PASS] if stub else []
    ident = f"{start} + {outcome} -> {after}" + ("" if reaches else ", refused")
    return pytest.param(start, outcome, after, reaches, marks=marks, id=ident)


TABLE = [
    row("closed", "ok", "closed", stub=True),
    row("closed", "503", "closed", stub=True),
    *(row("2 failures", outcome, "open") for outcome in FAILURES),
    *(row("2 failures", outcome, "closed", stub=True) for outcome in ["ok", *NOT_FAILURES]),
    *(row("open", outcome, "open", reaches=False) for outcome in ["ok", "503", "404"]),
    row("half_open", "ok", "closed"),
    *(row("half_open", outcome, "open") for outcome in ["503", "connect"]),
    *(row("half_open", outcome, "half_open") for outcome in NOT_FAILURES),
]
HELP_BY_ROW = {"closed": COUNT, "2 failures": COUNT, "open": REFUSED, "half_open": ONE_TRIAL}


@pytest.mark.parametrize(("start", "outcome", "after", "reaches"), TABLE)
async def test_transition(rig: Rig, start: str, outcome: str, after: str, reaches: bool) -> None:
    """each state answers each kind of call as the transition table says"""
    breaker = rig.breaker()
    await rig.bring_to(breaker, start)
    if outcome in NOT_FAILURES and start != "open":
        help = WHICH
    elif start == "half_open":
        help = TRIAL_PASSED if outcome == "ok" else TRIAL_FAILED
    else:
        help = HELP_BY_ROW[start]
    await rig.expect_call(breaker, outcome, reaches=reaches, help=help)
    expect_state(breaker, after, help, when=f" after a call that met {outcome!r} in {start!r}")


async def test_failures_in_a_row(rig: Rig) -> None:
    """a call that returns sets the count of failures in a row back to 0"""
    breaker = rig.breaker()
    await rig.fail(breaker, THRESHOLD - 1)
    await rig.expect_call(breaker, "ok")
    await rig.fail(breaker, THRESHOLD - 1)
    expect_state(breaker, "closed", IN_A_ROW, when=" after 2 failures, a success, 2 failures")
    await rig.expect_call(breaker, "503", help=COUNT)
    expect_state(breaker, "open", COUNT, when=" after 3 failures in a row")


@pytest.mark.parametrize("outcome", NOT_FAILURES)
async def test_other_errors_keep_the_count(rig: Rig, outcome: str) -> None:
    """an exception that is not a failure neither counts nor sets the count back to 0"""
    breaker = rig.breaker()
    await rig.fail(breaker, THRESHOLD - 1)
    await rig.expect_call(breaker, outcome, help=WHICH)
    await rig.expect_call(breaker, "503", help=WHICH)
    expect_state(breaker, "open", WHICH, when=f" after 2 failures, {outcome!r}, a failure")


async def test_open_refuses_every_call(rig: Rig) -> None:
    """while open, no call reaches the service, however many are made"""
    breaker = rig.breaker()
    await rig.fail(breaker, THRESHOLD)
    for step in range(5):
        rig.clock.now += 5.0 if step else 0.0
        await rig.expect_call(breaker, "ok", reaches=False)


@pytest.mark.parametrize(
    ("elapsed", "left"),
    [(0.0, 30.0), (12.5, 17.5), (RESET - EPSILON, EPSILON)],
    ids=["at once", "after 12.5 s", "a moment before 30 s"],
)
async def test_retry_after_is_the_time_left(rig: Rig, elapsed: float, left: float) -> None:
    """a refusal's retry_after is the time left until the breaker turns half-open"""
    breaker = rig.breaker()
    await rig.fail(breaker, THRESHOLD)
    rig.clock.now += elapsed
    error = await rig.expect_call(breaker, "ok", reaches=False)
    expect_equal(
        f"retry_after {elapsed:g} s after opening", left, error.retry_after, help=RETRY_AFTER
    )


async def test_half_open_exactly_at_the_timeout(rig: Rig) -> None:
    """open until opened_at + reset_timeout, half-open and letting a call through from it on"""
    breaker = rig.breaker()
    await rig.fail(breaker, THRESHOLD)
    rig.clock.now = START + RESET - EPSILON
    expect_state(breaker, "open", TIMER, when=" a moment before the timeout")
    await rig.expect_call(breaker, "ok", reaches=False, help=TIMER)
    rig.clock.now = START + RESET
    expect_state(breaker, "half_open", TIMER, when=" at the timeout")
    await rig.expect_call(breaker, "ok", help=TIMER)
    expect_state(breaker, "closed", TRIAL_PASSED, when=" after the trial returned")


async def test_opens_when_the_failure_comes_back(rig: Rig) -> None:
    """the breaker opens at the time the failure came back, not when the call was made"""
    breaker = rig.breaker()
    await rig.fail(breaker, THRESHOLD - 1)
    rig.quotes.late = 4.0  # the last failure takes 4 s, as a timeout does
    await rig.expect_call(breaker, "timeout", help=COUNT)
    rig.quotes.late = 0.0
    error = await rig.expect_call(breaker, "ok", reaches=False)
    expect_equal("retry_after just after opening", RESET, error.retry_after, help=WHEN_BACK)
    rig.clock.now = START + 4.0 + RESET - EPSILON
    expect_state(breaker, "open", WHEN_BACK, when=" 30 s after the call was made")
    rig.clock.now = START + 4.0 + RESET
    expect_state(breaker, "half_open", WHEN_BACK, when=" 30 s after the failure came back")


async def test_failed_trial_restarts_the_timer(rig: Rig) -> None:
    """a failed trial opens the breaker again for a whole reset_timeout from its failure"""
    breaker = rig.breaker()
    await rig.fail(breaker, THRESHOLD)
    rig.clock.now = START + RESET
    rig.quotes.late = 2.0
    await rig.expect_call(breaker, "503", help=TRIAL_FAILED)
    rig.quotes.late = 0.0
    reopened = START + RESET + 2.0
    error = await rig.expect_call(breaker, "ok", reaches=False, help=TRIAL_FAILED)
    expect_equal(
        "retry_after just after the trial failed", RESET, error.retry_after, help=TRIAL_FAILED
    )
    rig.clock.now = reopened + RESET - EPSILON
    expect_state(breaker, "open", TRIAL_FAILED, when=" a moment before the new timeout")
    rig.clock.now = reopened + RESET
    expect_state(breaker, "half_open", TRIAL_FAILED, when=" at the new timeout")
    await rig.expect_call(breaker, "ok", help=TRIAL_FAILED)


async def test_passed_trial_starts_the_count_again(rig: Rig) -> None:
    """a trial that returns closes the breaker with no failures counted"""
    breaker = rig.breaker()
    await rig.fail(breaker, THRESHOLD)
    rig.clock.now += RESET
    await rig.expect_call(breaker, "ok", help=TRIAL_PASSED)
    await rig.fail(breaker, THRESHOLD - 1)
    expect_state(breaker, "closed", TRIAL_PASSED, when=" after the trial and 2 failures")
    await rig.expect_call(breaker, "503", help=COUNT)
    expect_state(breaker, "open", COUNT, when=" after 3 more failures")


async def test_one_trial_at_a_time(rig: Rig) -> None:
    """while the trial runs, every other call is refused with retry_after 0"""
    breaker = rig.breaker()
    await rig.fail(breaker, THRESHOLD)
    rig.clock.now += RESET
    rig.quotes.hold = anyio.Event()
    trial: list[BaseException | None] = []
    others: list[tuple[BaseException | None, int]] = []

    async def run_trial() -> None:
        trial.append(await rig.call(breaker, "ok"))

    with anyio.fail_after(HANG_GUARD):
        async with anyio.create_task_group() as group:
            group.start_soon(run_trial)
            try:
                await rig.quotes.entered.wait()
                state = breaker.state
                for _ in range(3):
                    before = rig.quotes.calls
                    others.append((await rig.call(breaker, "ok"), rig.quotes.calls - before))
            finally:
                rig.quotes.hold.set()
    expect_equal("breaker.state while the trial runs", "half_open", state, help=ONE_TRIAL)
    for error, reached in others:
        expect_equal("requests reaching the service during the trial", 0, reached, help=ONE_TRIAL)
        expect_same_error(rig.exercise.CircuitOpenError, error, help=ONE_TRIAL)
        expect_equal("retry_after during the trial", 0.0, error.retry_after, help=ONE_TRIAL)
    expect_same_error(None, trial[0], help=TRIAL_PASSED)
    expect_state(breaker, "closed", TRIAL_PASSED, when=" after the trial returned")
    await rig.expect_call(breaker, "ok", help=TRIAL_PASSED)


@pytest.mark.parametrize("outcome", NOT_FAILURES)
async def test_trial_ended_otherwise(rig: Rig, outcome: str) -> None:
    """a trial ended by an exception that is not a failure leaves the breaker half-open"""
    breaker = rig.breaker()
    await rig.fail(breaker, THRESHOLD)
    rig.clock.now += RESET
    await rig.expect_call(breaker, outcome, help=WHICH)
    expect_state(breaker, "half_open", TRIAL_FREED, when=f" after a trial that met {outcome!r}")
    await rig.expect_call(breaker, "ok", help=TRIAL_FREED)
    expect_state(breaker, "closed", TRIAL_PASSED, when=" after the next trial returned")


async def test_cancelled_trial(rig: Rig) -> None:
    """a cancelled trial leaves the breaker half-open, and the next call is the trial"""
    breaker = rig.breaker()
    await rig.fail(breaker, THRESHOLD)
    rig.clock.now += RESET
    rig.quotes.hold = anyio.Event()
    with anyio.fail_after(HANG_GUARD):
        async with anyio.create_task_group() as group:
            group.start_soon(rig.call, breaker, "ok")
            await rig.quotes.entered.wait()
            group.cancel_scope.cancel()
    rig.quotes.hold.set()
    expect_state(breaker, "half_open", TRIAL_FREED, when=" after the trial was cancelled")
    await rig.expect_call(breaker, "ok", help=TRIAL_FREED)
    expect_state(breaker, "closed", TRIAL_PASSED, when=" after the next trial returned")


async def test_clock_at_zero(rig: Rig) -> None:
    """a breaker that opened when its clock read 0.0 is open all the same"""
    rig.clock.now = 0.0
    breaker = rig.breaker()
    await rig.fail(breaker, THRESHOLD)
    expect_state(breaker, "open", ZERO, when=" after 3 failures at 0.0")
    await rig.expect_call(breaker, "ok", reaches=False, help=ZERO)


async def test_defaults(rig: Rig) -> None:
    """by default the breaker opens at the 5th failure in a row, for 30 seconds"""
    breaker = rig.exercise.CircuitBreaker(clock=rig.clock)
    for _ in range(4):
        await rig.expect_call(breaker, "503", help=DEFAULTS)
    expect_state(breaker, "closed", DEFAULTS, when=" after 4 failures")
    await rig.expect_call(breaker, "503", help=DEFAULTS)
    expect_state(breaker, "open", DEFAULTS, when=" after 5 failures")
    rig.clock.now = START + 30.0 - EPSILON
    expect_state(breaker, "open", DEFAULTS, when=" a moment before 30 s")
    rig.clock.now = START + 30.0
    expect_state(breaker, "half_open", DEFAULTS, when=" after 30 s")


async def test_failure_types_are_the_breakers(rig: Rig) -> None:
    """the breaker counts the failure_types it was given, and only those"""
    breaker = rig.breaker(failure_types=(Bug,))
    for _ in range(THRESHOLD):
        await rig.expect_call(breaker, "503", help=TYPES)
    expect_state(breaker, "closed", TYPES, when=" after 3 x 503 with failure_types=(Bug,)")
    for _ in range(THRESHOLD):
        await rig.expect_call(breaker, "bug", help=TYPES)
    expect_state(breaker, "open", TYPES, when=" after 3 bugs with failure_types=(Bug,)")


@pytest.mark.parametrize(
    "settings",
    [{"failure_threshold": 0}, {"failure_threshold": -1}, {"reset_timeout": -0.5}],
    ids=["threshold 0", "threshold -1", "timeout -0.5"],
)
def test_invalid_settings(rig: Rig, settings: dict[str, float]) -> None:
    """a failure_threshold below 1 or a reset_timeout below 0 raises ValueError"""
    try:
        rig.breaker(**settings)
    except ValueError:
        return
    raise Failure(f"expected CircuitBreaker(**{settings}) to raise ValueError", help=SETTINGS)


async def test_smallest_settings(rig: Rig) -> None:
    """failure_threshold 1 opens at the first failure; reset_timeout 0 is half-open at once"""
    breaker = rig.breaker(failure_threshold=1, reset_timeout=0.0)
    await rig.expect_call(breaker, "503", help=SETTINGS)
    expect_state(breaker, "half_open", SETTINGS, when=" after one failure, with reset_timeout 0")


# -- the app ----------------------------------------------------------------------------


class Service:
    """The app running on the scripted quote service, with its clock."""

    def __init__(self, client: httpx.AsyncClient, quotes: Quotes) -> None:
        self.client = client
        self.quotes = quotes
        self.clock = quotes.clock

    async def get(self, outcome: str = "ok", symbol: str = "ACME") -> httpx.Response:
        self.quotes.outcome = outcome
        with anyio.fail_after(HANG_GUARD):
            return await self.client.get(f"/quote/{symbol}")

    async def fail(self, times: int) -> None:
        for _ in range(times):
            expect_status(await self.get("503"), 502, help=COUNT)


@asynccontextmanager
async def service(exercise: ModuleType) -> AsyncIterator[Service]:
    quotes = Quotes(Clock())
    app = exercise.create_app(transport=httpx.MockTransport(quotes.handler), clock=quotes.clock)
    async with running(app) as (client, _):
        yield Service(client, quotes)


def expect_refused(
    service: Service, response: httpx.Response, retry_after: str, calls: int
) -> None:
    expect_status(response, 503, help=HTTP_503)
    expect_json(response, {"detail": "The quote service is unavailable"}, help=HTTP_503)
    expect_header(response, "retry-after", retry_after, help=HTTP_503)
    expect_equal("requests reaching the quote service", calls, service.quotes.calls, help=REFUSED)


@pytest.mark.stub_may_pass("the route is given")
async def test_quote(exercise: ModuleType) -> None:
    """GET /quote/{symbol} answers the quote the service gave"""
    async with service(exercise) as app:
        response = await app.get()
    expect_status(response, 200)
    expect_json(response, QUOTE)
    expect_equal("paths requested from the quote service", ["/quotes/ACME"], app.quotes.paths)


@pytest.mark.stub_may_pass("the route is given")
async def test_unknown_symbol(exercise: ModuleType) -> None:
    """a symbol the service does not know answers 404"""
    async with service(exercise) as app:
        response = await app.get("404")
    expect_status(response, 404)
    expect_json(response, {"detail": "Unknown symbol"})


@pytest.mark.stub_may_pass("the route is given")
@pytest.mark.parametrize("outcome", FAILURES)
async def test_failure_is_502(exercise: ModuleType, outcome: str) -> None:
    """a failure of the quote service answers 502"""
    async with service(exercise) as app:
        response = await app.get(outcome)
    expect_status(response, 502)
    expect_json(response, {"detail": "The quote service failed"})


async def test_app_opens_at_the_fifth_failure(exercise: ModuleType) -> None:
    """the app's breaker opens at the 5th failure in a row: then 503, Retry-After 30"""
    async with service(exercise) as app:
        await app.fail(4)
        expect_status(await app.get("503"), 502, help=DEFAULTS)
        expect_equal("requests reaching the quote service", 5, app.quotes.calls, help=DEFAULTS)
        expect_refused(app, await app.get(), "30", calls=5)


@pytest.mark.parametrize(
    ("elapsed", "header"), [(0.5, "30"), (12.25, "18"), (29.0, "1"), (29.75, "1")]
)
async def test_retry_after_header(exercise: ModuleType, elapsed: float, header: str) -> None:
    """Retry-After is the time left rounded up to whole seconds"""
    async with service(exercise) as app:
        await app.fail(5)
        app.clock.now += elapsed
        expect_refused(app, await app.get(), header, calls=5)


async def test_app_half_open_at_thirty_seconds(exercise: ModuleType) -> None:
    """30 s after opening, a request goes through as the trial, and the app recovers"""
    async with service(exercise) as app:
        await app.fail(5)
        app.clock.now = START + 30.0 - EPSILON
        expect_refused(app, await app.get(), "1", calls=5)
        app.clock.now = START + 30.0
        for calls in (6, 7):
            response = await app.get()
            expect_status(response, 200, help=TIMER)
            expect_equal("requests reaching the quote service", calls, app.quotes.calls)


async def test_app_refuses_during_the_trial(exercise: ModuleType) -> None:
    """while the trial request runs, other requests get 503 with Retry-After 1"""
    async with service(exercise) as app:
        await app.fail(5)
        app.clock.now += 30.0
        app.quotes.hold = anyio.Event()
        answers: list[httpx.Response] = []

        async def trial() -> None:
            answers.append(await app.get())

        with anyio.fail_after(HANG_GUARD):
            async with anyio.create_task_group() as group:
                group.start_soon(trial)
                try:
                    await app.quotes.entered.wait()
                    other = await app.get()
                    calls = app.quotes.calls
                finally:
                    app.quotes.hold.set()
        app.quotes.calls = calls
        expect_refused(app, other, "1", calls=6)
        expect_status(answers[0], 200, help=TRIAL_PASSED)


async def test_one_breaker_per_app(exercise: ModuleType) -> None:
    """requests for any symbol share their app's breaker; another app has its own"""
    async with service(exercise) as app:
        for symbol in ("ACME", "INIT", "BETA", "GAMA", "DELT"):
            expect_status(await app.get("503", symbol), 502, help=PER_APP)
        expect_refused(app, await app.get("ok", "OMGA"), "30", calls=5)
        async with service(exercise) as other:
            response = await other.get()
        expect_status(response, 200, help=PER_APP)
